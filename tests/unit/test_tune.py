"""``fleetscale tune`` on synthetic traces whose best settings are known."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import yaml

from fleetscale import cli, config
from fleetscale.errors import ConfigError
from fleetscale.policy.predictive import PredictivePolicy
from fleetscale.policy.recommended import recommended_governor, recommended_policies
from fleetscale.tune.evaluate import Task, evaluate, pool_config
from fleetscale.tune.objective import Figures, Slo, parse_slo
from fleetscale.tune.parallel import Inline
from fleetscale.tune.run import History, tune, with_params
from fleetscale.tune.search import Tried, pareto
from fleetscale.tune.space import DEFAULT, SEEDS, Params, RandomDraw, suggest
from tests.unit.replay_kit import wavy

#: what ``simulate --report`` and the tune report's ``whole_input`` may differ in
VOLATILE = {"wall_seconds", "steps_per_second", "trace"}


def write_trace(path: Path, loads: list[float], interval: float = 60.0) -> Path:
    path.write_text("t_seconds,load\n" + "".join(f"{int(k * interval)},{v}\n" for k, v in enumerate(loads)))
    return path


def flat(n: int = 960) -> list[float]:
    return [9.0] * n


def changes_late(n: int = 960) -> list[float]:
    """Flat for the first 3/4, then bursts of +8 every 20 minutes (the held-out part differs)."""
    cut = n * 3 // 4
    return [9.0 if k < cut else 9.0 + (8.0 if (k // 20) % 2 else 0.0) for k in range(n)]


def doc(trace: Path, boot_delay: float = 120.0) -> dict[str, object]:
    return {"name": "web", "interval": 60.0, "min": 1, "max": 50, "unit_capacity": 1.0,
            "provider": {"kind": "simulated", "boot_delay": boot_delay, "drain_time": 0.0},
            "sources": [{"kind": "trace", "path": str(trace)}]}


def lowest_utilisation(p: Params) -> float:
    """The least utilisation among the policies ``p`` writes (the one that asks the most)."""
    return min(float(x["utilisation"]) for x in p.policies(180.0))


def stable(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k not in VOLATILE}


class TestKnownOptimum:
    """A steady 9.7 units of load: the cheapest fleet that is never short is 10 instances,
    reached only with a reactive utilisation in [0.97, 0.98] and no forecast headroom above it
    (none of the search's starting points is there)."""

    def test_finds_it(self, tmp_path: Path) -> None:
        loads = [9.7] * 720
        trace = write_trace(tmp_path / "flat.csv", loads)
        history = History(np.asarray(loads), 60.0, doc(trace), holdout=0.25)
        assert all(lowest_utilisation(p) < 0.97 for p in SEEDS)
        tuned = tune(history, Slo(1.0, 0.1), Inline(), budget=30, batch=2, method="optuna", seed=0)
        c = tuned.chosen
        assert c.figures.meets(Slo(1.0, 0.1)) and tuned.meets_held_out
        # the known optimum: 10 instances where the oracle (never short, utilisation 1) needs 10
        assert c.figures.cost_vs_oracle == pytest.approx(1.0)
        assert lowest_utilisation(c.params) >= 0.97
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
        assert stable(json.loads(sim.read_text())) == stable(body["whole_input"])
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


class TestLearntHeadroom:
    """The space holds today's recommended default (a ``predictive`` policy that learns its
    headroom from its own forecast errors) and its neighbours; every search starts there."""

    @pytest.mark.parametrize("boot_delay", [120.0, 300.0], ids=["boot120", "boot300"])
    def test_the_first_seed_is_todays_recommended_default(self, tmp_path: Path, boot_delay: float) -> None:
        assert SEEDS[0] == DEFAULT
        pool = pool_config(with_params(doc(tmp_path / "t.csv", boot_delay), DEFAULT))
        assert pool.decision_spec().policies == recommended_policies(horizon=boot_delay + 60.0)
        assert pool.governor == recommended_governor()

    def test_the_previous_seeds_are_kept(self) -> None:
        assert [(p.utilisation, p.forecast, p.forecast_utilisation, p.quantile, p.headroom, p.reactive)
                for p in SEEDS[1:]] == [(0.88, True, 0.92, 0.691, "volatility", True),
                                        (0.8, True, 0.85, 0.841, "volatility", True),
                                        (0.95, False, 0.92, 0.5, "volatility", True)]

    def test_the_search_never_chooses_worse_than_the_default_in_sample(self, tmp_path: Path) -> None:
        loads = wavy(960)
        history = History(np.asarray(loads), 60.0, doc(write_trace(tmp_path / "w.csv", loads)))
        slo = Slo(1.0, 0.1)
        tuned = tune(history, slo, Inline(), budget=6, batch=2, method="optuna", seed=0)
        default = tuned.anchors["recommended"]["in_sample"]
        # the first run is the default itself: the very figures of the named `recommended`
        assert tuned.tried[0].params == DEFAULT and tuned.tried[0].figures == default
        assert default.meets(slo)
        assert tuned.chosen.figures.meets(slo)
        assert tuned.chosen.figures.instance_hours <= default.instance_hours

    def test_a_learnt_point_round_trips_through_the_file_check_and_simulate(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        loads = wavy(960)
        trace = write_trace(tmp_path / "w.csv", loads)
        learnt = Params(0.85, True, 0.874, 0.8, 1800.0, 420.0, 2, reactive=True, headroom="learnt",
                        error_quantile=0.957, error_window=720)
        pool = with_params(doc(trace), learnt)
        path = tmp_path / "learnt.yaml"
        path.write_text(yaml.safe_dump({"pools": [pool]}, sort_keys=False), encoding="utf-8")
        assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err
        policies = config.load(path).config.pool("web").decision_spec().policies
        assert [p.kind for p in policies] == ["target", "predictive"]
        predictive = policies[1]
        assert isinstance(predictive, PredictivePolicy)
        assert (predictive.utilisation, predictive.volatility, predictive.volatility_window,
                predictive.error_quantile, predictive.error_window, predictive.error_min) == \
               (0.874, round(NormalDist().inv_cdf(0.8), 3), 1800.0, 0.957, 720, 100)
        tuned_body = evaluate(Task(0, pool, np.asarray(loads), 60.0)).body
        sim = tmp_path / "sim.json"
        assert cli.main(["simulate", "--trace", str(trace), "--config", str(path), "--pool", "web",
                         "--report", str(sim)]) == 0
        assert stable(json.loads(sim.read_text())) == stable(tuned_body)
        # the learnt headroom is what ran: the same point with the volatility margin alone differs
        plain = replace(learnt, headroom="volatility")
        assert evaluate(Task(1, with_params(doc(trace), plain), np.asarray(loads), 60.0)).figures != \
               Figures.of(tuned_body)

    def test_cli_writes_the_default_when_it_is_all_that_was_tried(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        loads = wavy(960)
        trace = write_trace(tmp_path / "w.csv", loads)
        out, rep = tmp_path / "tuned.yaml", tmp_path / "tune.json"
        assert cli.main(["tune", "--trace", str(trace), "--max", "50", "--pool", "web",
                         "--slo", "tau_under=1", "--budget", "1", "--method", "random", "--workers", "1",
                         "--out", str(out), "--report", str(rep)]) == 0, capsys.readouterr().err
        assert cli.main(["check", str(out)]) == 0
        body = json.loads(rep.read_text())
        assert body["chosen"]["params"] == DEFAULT.as_dict()
        written = yaml.safe_load(out.read_text())["pools"][0]
        assert written["policies"] == [{"kind": "predictive", "name": "predictive", "utilisation": 0.9,
                                        "horizon": 180.0, "volatility": 0.5, "volatility_window": 3600.0,
                                        "error_quantile": 0.99, "error_window": 2880, "error_min": 100,
                                        "error_band": 2.0}]
        sim = tmp_path / "sim.json"
        assert cli.main(["simulate", "--trace", str(trace), "--config", str(out), "--pool", "web",
                         "--report", str(sim)]) == 0
        assert stable(json.loads(sim.read_text())) == stable(body["whole_input"])
        # and what `simulate` gives a pool that names no policy
        bare = tmp_path / "bare.json"
        assert cli.main(["simulate", "--trace", str(trace), "--max", "50", "--report", str(bare)]) == 0
        assert stable(json.loads(bare.read_text())) == stable(body["whole_input"])

    def test_every_draw_is_a_valid_pool_with_a_policy(self, tmp_path: Path) -> None:
        def shape(x: object) -> str:
            learnt = isinstance(x, PredictivePolicy) and x.error_quantile > 0
            return f"{x.kind}{' learnt' if learnt else ''}"

        draw = RandomDraw(random.Random(7))
        base = doc(tmp_path / "t.csv")
        shapes = set()
        for _ in range(200):
            p = suggest(draw)
            policies = pool_config(with_params(base, p)).decision_spec().policies
            assert policies and (p.forecast or [x.kind for x in policies] == ["target"])
            shapes.add(tuple(shape(x) for x in policies))
        # every shape of the family is drawn: reactive alone, with a forecast of either headroom,
        # and a forecast of either headroom alone
        assert shapes == {("target",), ("target", "predictive"), ("target", "predictive learnt"),
                          ("predictive",), ("predictive learnt",)}
