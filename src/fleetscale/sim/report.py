"""The JSON report of one simulation: settings, scores, and the comparison with the oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fleetscale.sim.scenario import Outcome, Scenario


def report(scenario: Scenario, outcome: Outcome, oracle: Outcome, *, trace: str = "") -> dict[str, Any]:
    scores = outcome.timeline.scores()
    best = oracle.timeline.scores()
    body: dict[str, Any] = {
        "trace": trace,
        "policy": outcome.name,
        "settings": {
            "interval": outcome.timeline.interval,
            "pool_interval": scenario.interval,
            "capacity": scenario.spec.unit_capacity,
            "min": scenario.spec.min,
            "max": scenario.spec.max,
            "boot_delay": scenario.fleet.boot_delay,
            "drain_time": scenario.fleet.drain_time,
            "sessions": None if scenario.fleet.holding is None else {
                "mean_holding": scenario.fleet.holding.mean,
                "distribution": scenario.fleet.holding.distribution,
                "cv": scenario.fleet.holding.cv,
                "per_load": scenario.fleet.sessions_per_load,
                "dispatch": scenario.fleet.dispatch,
                "drain_timeout": scenario.fleet.drain_timeout,
            },
            "boot_failure_rate": scenario.fleet.boot_failure_rate,
            "seed": scenario.fleet.seed,
            "trace_interval": scenario.trace_interval,
        },
        "steps": outcome.steps,
        "wall_seconds": round(outcome.wall_seconds, 4),
        "steps_per_second": round(outcome.steps / outcome.wall_seconds) if outcome.wall_seconds > 0 else None,
    }
    body.update(scores.as_dict())
    body["cost_vs_oracle"] = (scores.instance_hours / best.instance_hours
                              if best.instance_hours > 0 else math.inf)
    body["oracle"] = best.as_dict()
    body["supply"] = "ready (instances in service); provisioned = pending + ready + draining"
    body["units"] = {"theta_*": "%", "tau_*": "%", "instability": "%", "jitter": "adaptations per hour",
                     "unserved_fraction": "fraction of load", "instance_hours": "h"}
    return body


def write(body: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(body, indent=2, default=_finite) + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    return str(value)
