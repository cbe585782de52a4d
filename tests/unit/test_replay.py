"""``fleetscale replay`` on journals recorded by the real runner on a simulated pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetscale import cli
from fleetscale.replay.journal import load
from fleetscale.replay.reproduce import reproduce
from fleetscale.replay.run import replay
from tests.unit.replay_kit import record_run, wavy


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('j') / 'journal.db'}"
    record_run(url, wavy(240), restart_at=150)
    return url


class TestReproduction:
    """The pool's own configuration reproduces every recorded decision."""

    def test_every_decision_reproduced(self, recorded: str) -> None:
        cycles = load(recorded, "web")
        rep = reproduce(cycles)
        assert rep.total == 240
        changed = [c for c in rep.cycles if c.recorded and c.recorded["direction"] != "hold"]
        assert len(changed) > 10  # the run really scaled
        assert rep.reproduced == rep.total, rep.as_dict()["first_differences"]
        assert not rep.memory_unknown and rep.config_differs == 0

    def test_a_window_starts_from_the_recorded_state(self, recorded: str) -> None:
        cycles = load(recorded, "web")
        # from the restart on: the runner's first cycle recorded its memory and settings
        rep = reproduce(cycles[150:])
        assert rep.reproduced == rep.total == 90

    def test_another_configuration_differs(self, recorded: str, tmp_path: Path) -> None:
        body = replay(recorded, "web", policy="hpa").body
        assert body["decisions_total"] == 240
        assert body["replayed_with"] == "policy hpa"
        assert set(body["recorded"]) >= {"tau_under", "instance_hours", "cost_vs_oracle"}
        assert body["policy"] == "hpa"


class TestAnotherConfiguration:
    def test_config_as_another_pool(self, recorded: str, tmp_path: Path) -> None:
        cfg = tmp_path / "pools.yaml"
        cfg.write_text(
            "pools:\n"
            "- name: lean\n"
            "  max: 60\n"
            "  min: 1\n"
            "  unit_capacity: 2.0\n"
            "  policies: [{kind: target, utilisation: 0.95}]\n"
            "  provider: {kind: simulated, boot_delay: 120, drain_time: 0}\n")
        body = replay(recorded, "web", config=str(cfg), as_pool="lean").body
        assert body["reproduction"]["with"] == f"{cfg} pool lean"
        assert body["reproduction"]["config_differs_cycles"] == 240
        assert 0 < body["decisions_reproduced"] < body["decisions_total"] == 240
        assert body["instance_hours"] < body["recorded"]["instance_hours"]  # a leaner policy


class TestCli:
    def test_report_has_the_simulate_keys_and_the_recorded_figures(
            self, recorded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        out = tmp_path / "r.json"
        code = cli.main(["replay", "--journal", recorded, "--pool", "web", "--report", str(out),
                         "--timeline", str(tmp_path / "t.csv")])
        assert code == 0, capsys.readouterr()
        body = json.loads(out.read_text())
        assert body["decisions_reproduced"] == body["decisions_total"] == 240
        for key in ("tau_under", "unserved_fraction", "instance_hours", "cost_vs_oracle"):
            assert key in body and key in body["recorded"]
        assert {"oracle", "settings", "steps"} <= set(body)
        # the only missing reading: the first cycle, before any interval had completed
        assert body["gaps"]["by_kind"] == {"controller down": 0, "listing failed": 0, "read failed": 1}
        assert body["gaps"]["ranges"][0]["cycles"] == 1
        # the simulator on the recorded load gives back the recorded run
        assert body["instance_hours"] == pytest.approx(body["recorded"]["instance_hours"])
        assert "240 of 240 recorded decisions reproduced" in capsys.readouterr().out

    def test_missing_journal_file_is_one_clear_line(self, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
        url = f"sqlite:///{tmp_path / 'nope.db'}"
        assert cli.main(["replay", "--journal", url, "--pool", "web"]) == 1
        assert "no such file" in capsys.readouterr().err
        assert not (tmp_path / "nope.db").exists()

    def test_unknown_pool_is_one_clear_line(self, recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main(["replay", "--journal", recorded, "--pool", "nope"]) == 1
        err = capsys.readouterr().err
        assert "no cycles of pool 'nope'" in err and "Traceback" not in err


class TestGaps:
    """Missing data is reported, never filled in."""

    def test_controller_down_is_reported_with_its_range(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'gaps.db'}"
        record_run(url, wavy(120, seed=3), down=[range(40, 52)], restart_at=52)
        result = replay(url, "web")
        gaps = result.body["gaps"]
        assert gaps["by_kind"]["controller down"] == 1
        (down,) = [g for g in gaps["ranges"] if g["kind"] == "controller down"]
        assert down["seconds"] == 13 * 60 and down["from"].startswith("2026-01-05T00:39")
        assert result.body["decisions_reproduced"] == result.body["decisions_total"] == 108
        # the simulated run covers only recorded steps: two parts, nothing invented for the gap
        hist = result.counterfactual.history
        assert len(hist.parts()) == 2
        assert result.body["steps"] < 120


class TestReproductionProperty:
    """Whatever the load, restarts and outages, the pool's own configuration reproduces every
    recorded decision."""

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(loads=st.lists(st.floats(0, 60, allow_nan=False), min_size=20, max_size=70),
           restart=st.integers(1, 19), down=st.integers(0, 5))
    def test_always_reproduced(self, tmp_path_factory: pytest.TempPathFactory, loads: list[float],
                               restart: int, down: int) -> None:
        url = f"sqlite:///{tmp_path_factory.mktemp('p') / 'j.db'}"
        record_run(url, loads, down=[range(restart, restart + down)], restart_at=restart + down)
        rep = reproduce(load(url, "web"))
        ran = len(loads) - len(range(restart, min(restart + down, len(loads))))  # down may pass the end
        assert rep.reproduced == rep.total == ran, rep.as_dict()["first_differences"]
