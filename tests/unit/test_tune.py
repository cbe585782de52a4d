"""``fleetscale tune`` on synthetic traces whose best settings are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fleetscale import cli
from fleetscale.errors import ConfigError
from fleetscale.tune.objective import Figures, Slo, parse_slo
from fleetscale.tune.parallel import Inline
from fleetscale.tune.run import History, tune
from fleetscale.tune.search import Tried, pareto
from fleetscale.tune.space import SEEDS


def write_trace(path: Path, loads: list[float], interval: float = 60.0) -> Path:
    path.write_text("t_seconds,load\n" + "".join(f"{int(k * interval)},{v}\n" for k, v in enumerate(loads)))
    return path


def flat(n: int = 960) -> list[float]:
    return [9.0] * n


def changes_late(n: int = 960) -> list[float]:
    """Flat for the first 3/4, then bursts of +8 every 20 minutes (the held-out part differs)."""
    cut = n * 3 // 4
    return [9.0 if k < cut else 9.0 + (8.0 if (k // 20) % 2 else 0.0) for k in range(n)]


def doc(trace: Path) -> dict[str, object]:
    return {"name": "web", "interval": 60.0, "min": 1, "max": 50, "unit_capacity": 1.0,
            "provider": {"kind": "simulated", "boot_delay": 120.0, "drain_time": 0.0},
            "sources": [{"kind": "trace", "path": str(trace)}]}


class TestKnownOptimum:
    """A steady 9.7 units of load: the cheapest fleet that is never short is 10 instances,
    reached only with a reactive utilisation in [0.97, 0.98] and no forecast headroom above it
    (none of the search's starting points is there)."""

    def test_finds_it(self, tmp_path: Path) -> None:
        loads = [9.7] * 720
        trace = write_trace(tmp_path / "flat.csv", loads)
        history = History(np.asarray(loads), 60.0, doc(trace), holdout=0.25)
        assert all(p.utilisation < 0.97 for p in SEEDS)
        tuned = tune(history, Slo(1.0, 0.1), Inline(), budget=30, batch=2, method="optuna", seed=0)
        c = tuned.chosen
        assert c.figures.meets(Slo(1.0, 0.1)) and tuned.meets_held_out
        # the known optimum: 10 instances where the oracle (never short, utilisation 1) needs 10
        assert c.figures.cost_vs_oracle == pytest.approx(1.0)
        assert c.params.utilisation >= 0.97
        assert all(t.figures.instance_hours >= c.figures.instance_hours - 1e-9
                   for t in tuned.tried if t.figures.meets(Slo(1.0, 0.1)))

    def test_cli_output_passes_check_and_simulate_reproduces_it(self, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
        trace = write_trace(tmp_path / "flat.csv", flat())
        out, rep = tmp_path / "tuned.yaml", tmp_path / "tune.json"
        code = cli.main(["tune", "--trace", str(trace), "--capacity", "1", "--max", "50", "--pool", "web",
                         "--slo", "tau_under=1,unserved=0.1", "--budget", "6", "--workers", "1",
                         "--out", str(out), "--report", str(rep), "--plot", str(tmp_path / "t.png")])
        assert code == 0, capsys.readouterr().err
        assert cli.main(["check", str(out)]) == 0
        body = json.loads(rep.read_text())
        sim = tmp_path / "sim.json"
        assert cli.main(["simulate", "--trace", str(trace), "--config", str(out), "--pool", "web",
                         "--report", str(sim)]) == 0
        again = json.loads(sim.read_text())
        volatile = {"wall_seconds", "steps_per_second", "trace"}
        assert {k: v for k, v in again.items() if k not in volatile} == \
               {k: v for k, v in body["whole_input"].items() if k not in volatile}
        assert (tmp_path / "t.png").stat().st_size > 10_000
        assert {"hpa", "aws-target-tracking", "dynoscaler", "gateway-scaler"} <= set(body["anchors"])
        assert body["pareto_front"] and len(body["tried"]) == 6


class TestOverfittingGuard:
    def test_met_in_sample_but_not_held_out_is_said(self, tmp_path: Path) -> None:
        trace = write_trace(tmp_path / "late.csv", changes_late())
        history = History(np.asarray(changes_late()), 60.0, doc(trace), holdout=0.25)
        tuned = tune(history, Slo(1.0, 0.1), Inline(), budget=6, batch=2, method="random")
        assert tuned.meets_in_sample and tuned.meets_held_out is False
        from fleetscale.tune.output import report

        assert report(tuned)["verdict"].startswith("WARNING: the objective is met in-sample but NOT")


class TestPieces:
    @pytest.mark.parametrize(("text", "want"), [
        ("tau_under=1,unserved=0.1", Slo(1.0, 0.1)),
        ("tau_under=2", Slo(2.0, 0.1)),
        (" unserved = 0.5 ", Slo(1.0, 0.5)),
    ], ids=["both", "one", "spaces"])
    def test_slo(self, text: str, want: Slo) -> None:
        assert parse_slo(text) == want

    @pytest.mark.parametrize("text", ["tau=1", "tau_under=x", "tau_under=-1", ""], ids=str)
    def test_bad_slo_names_the_field(self, text: str) -> None:
        with pytest.raises(ConfigError, match="--slo"):
            parse_slo(text)

    def test_pareto_keeps_only_the_undominated(self) -> None:
        def t(h: float, tau: float) -> Tried:
            return Tried(SEEDS[0], Figures(h, h / 10, tau, 0.0))

        front = pareto([t(10, 5), t(12, 1), t(11, 6), t(15, 0), t(16, 0)])
        assert [(x.figures.instance_hours, x.figures.tau_under) for x in front] == [(10, 5), (12, 1), (15, 0)]

    def test_bad_budget_is_one_line(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        trace = write_trace(tmp_path / "f.csv", flat(10))
        assert cli.main(["tune", "--trace", str(trace), "--slo", "tau_under=1", "--budget", "0",
                         "--out", str(tmp_path / "o.yaml")]) == 2
        assert "--budget must be >= 1" in capsys.readouterr().err


class TestFromAJournal:
    def test_tunes_a_recorded_pool_and_writes_its_load(self, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        from tests.unit.replay_kit import record_run, wavy

        url = f"sqlite:///{tmp_path / 'j.db'}"
        record_run(url, wavy(160))
        out = tmp_path / "tuned.yaml"
        code = cli.main(["tune", "--journal", url, "--pool", "web", "--slo", "tau_under=2", "--budget", "3",
                         "--workers", "1", "--out", str(out), "--report", str(tmp_path / "r.json")])
        assert code == 0, capsys.readouterr().err
        trace = out.with_suffix(".trace.csv")
        assert len(trace.read_text().splitlines()) == 1 + 159  # cycles 1..159 saw steps 0..158
        assert cli.main(["check", str(out)]) == 0
        body = json.loads((tmp_path / "r.json").read_text())
        sim = tmp_path / "s.json"
        assert cli.main(["simulate", "--trace", str(trace), "--config", str(out), "--pool", "web",
                         "--report", str(sim)]) == 0
        assert json.loads(sim.read_text())["instance_hours"] == body["whole_input"]["instance_hours"]
