"""One tuning: the input's first part is searched, its held-out last part judges the choice.

    history ──split──▶ tune part ──search (budget runs)──▶ tried ──▶ chosen (cheapest that meets
                       held-out part ◀──────────────────────────────── the objective in-sample)

The chosen settings and the anchors (named policies: hpa, aws-target-tracking, the seeds'
algorithms, and the untuned recommended default) are simulated on both parts; the chosen
settings also on the whole input (what ``fleetscale simulate --config tuned.yaml``
reproduces). The search's first run is the recommended default itself (``space.DEFAULT``), on
the tuning part only: the same figures as its anchor there.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fleetscale.errors import ConfigError
from fleetscale.tune import search as searching
from fleetscale.tune.evaluate import Done, Task, scenario
from fleetscale.tune.objective import Figures, Slo
from fleetscale.tune.parallel import Runner
from fleetscale.tune.space import Params

Array = npt.NDArray[np.float64]
ANCHORS = ("hpa", "aws-target-tracking", "dynoscaler", "gateway-scaler", "recommended")


@dataclass(frozen=True, slots=True)
class History:
    """The input: loads at ``trace_interval`` and the pool document to tune (its policies and
    governor are replaced)."""

    loads: Array
    trace_interval: float
    doc: dict[str, Any]
    holdout: float = 0.25

    def split(self) -> int:
        n = len(self.loads)
        cut = round(n * (1.0 - self.holdout))
        if self.holdout > 0 and not 0 < cut < n:
            raise ConfigError(f"--holdout {self.holdout}: the input ({n} rows) is too short to split")
        return cut


def with_params(doc: dict[str, Any], p: Params) -> dict[str, Any]:
    """The pool document with ``p`` as its policies and governor."""
    sc = scenario(doc, np.zeros(1), 1.0)
    out = copy.deepcopy(doc)
    out["policies"] = p.policies(horizon=sc.fleet.boot_delay + sc.interval)
    out["governor"] = p.governor()
    return out


@dataclass(frozen=True, slots=True)
class Tuned:
    slo: Slo
    method: str
    tried: list[searching.Tried]
    chosen: searching.Tried
    doc: dict[str, Any]
    held_out: Figures | None
    whole: dict[str, Any]
    anchors: dict[str, dict[str, Figures]]
    split: int
    rows: int

    @property
    def meets_in_sample(self) -> bool:
        return self.chosen.figures.meets(self.slo)

    @property
    def meets_held_out(self) -> bool | None:
        return None if self.held_out is None else self.held_out.meets(self.slo)


def tune(history: History, slo: Slo, runner: Runner, *, budget: int, batch: int, method: str = "optuna",
         seed: int = 0) -> Tuned:
    if budget < 1:
        raise ConfigError(f"--budget must be >= 1 (got {budget})")
    cut = history.split() if history.holdout > 0 else len(history.loads)
    train, test = history.loads[:cut], history.loads[cut:]
    ti = history.trace_interval

    def make(key: int, p: Params) -> Task:
        return Task(key, with_params(history.doc, p), train, ti)

    tried = searching.search(make, runner, slo, budget, batch=batch, method=method, seed=seed)
    chosen = searching.best(tried, slo)
    doc = with_params(history.doc, chosen.params)
    tasks = [Task(0, doc, history.loads, ti)]
    parts = [("in_sample", train)] + ([("held_out", test)] if len(test) else [])
    if len(test):
        tasks.append(Task(1, doc, test, ti))
    names: dict[int, tuple[str, str]] = {}
    for name in ANCHORS:
        for part, loads in parts:
            key = 10 + len(names)
            names[key] = (name, part)
            tasks.append(Task(key, history.doc, loads, ti, policy=name))
    done: dict[int, Done] = {d.key: d for d in runner.run(tasks)}
    anchors: dict[str, dict[str, Figures]] = {}
    for key, (name, part) in names.items():
        anchors.setdefault(name, {})[part] = done[key].figures
    held = done[1].figures if 1 in done else None
    return Tuned(slo, method, tried, chosen, doc, held, done[0].body, anchors, cut, len(history.loads))


def finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
