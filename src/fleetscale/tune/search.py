"""The search: which settings to simulate next, in batches as wide as the workers.

Two strategies over the same space (``tune.space``), both starting from ``space.SEEDS``:
``random`` (seeded uniform draws) and ``optuna`` (Optuna's TPE sampler, multivariate, with
the constant liar so a batch in flight is not asked again). Each run is scored by one number
for the sampler: cost vs. the oracle plus 10 x how far it misses the objective.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fleetscale.tune.evaluate import Task
from fleetscale.tune.objective import Figures, Slo
from fleetscale.tune.parallel import Runner
from fleetscale.tune.space import SEEDS, Params, RandomDraw, suggest

METHODS = ("optuna", "random")
MISS_WEIGHT = 10.0


@dataclass(frozen=True, slots=True)
class Tried:
    params: Params
    figures: Figures


def score(f: Figures, slo: Slo) -> float:
    return f.cost_vs_oracle + MISS_WEIGHT * f.miss(slo)


def _optuna_study(seed: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                         n_startup_trials=8)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    for p in SEEDS:
        study.enqueue_trial(p.as_dict())
    return study


def search(make_task: Callable[[int, Params], Task], runner: Runner, slo: Slo, budget: int, *,
           batch: int, method: str = "optuna", seed: int = 0) -> list[Tried]:
    """Simulate ``budget`` settings; ``make_task(key, params)`` builds each run."""
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r} (known: {', '.join(METHODS)})")
    study = _optuna_study(seed) if method == "optuna" else None
    draw = RandomDraw(random.Random(seed))
    tried: list[Tried] = []
    while len(tried) < budget:
        width = min(max(batch, 1), budget - len(tried))
        asked: list[tuple[Any, Params]] = []
        for i in range(width):
            k = len(tried) + i
            if study is not None:
                trial = study.ask()
                asked.append((trial, suggest(trial)))
            else:
                asked.append((None, SEEDS[k] if k < len(SEEDS) else suggest(draw)))
        base = len(tried)
        tasks = [make_task(base + i, p) for i, (_, p) in enumerate(asked)]
        results = {d.key: d.figures for d in runner.run(tasks)}
        for i, (trial, p) in enumerate(asked):
            f = results[base + i]
            if study is not None:
                study.tell(trial, score(f, slo))
            tried.append(Tried(p, f))
    return tried


def best(tried: Sequence[Tried], slo: Slo) -> Tried:
    """The cheapest run that meets the objective, else the one that misses it least."""
    return min(tried, key=lambda t: t.figures.rank(slo))


def pareto(tried: Sequence[Tried]) -> list[Tried]:
    """The runs no other is both cheaper and less under-provisioned than (cost ascending)."""
    out: list[Tried] = []
    for t in sorted(tried, key=lambda t: (t.figures.instance_hours, t.figures.tau_under)):
        if not out or t.figures.tau_under < out[-1].figures.tau_under:
            out.append(t)
    return out
