"""One simulated run of a candidate pool, built exactly as ``fleetscale simulate --config``
builds it (the pool document through ``config``'s validation, the fleet from its
``simulated`` provider's options) and scored by ``sim.report``. ``evaluate`` is what runs in
the worker processes (local or Dask), so it takes and returns plain picklable values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fleetscale.sim import report
from fleetscale.sim.run import FleetSettings
from fleetscale.sim.scenario import Scenario, run_policy
from fleetscale.tune.objective import Figures

Array = npt.NDArray[np.float64]


def pool_config(doc: dict[str, Any]) -> Any:
    """The pool document validated as ``fleetscale check`` validates it."""
    from fleetscale import config

    return config.parse({"pools": [doc]}).config.pools[0]


def scenario(doc: dict[str, Any], loads: Array, trace_interval: float) -> Scenario:
    """The scenario ``fleetscale simulate --config FILE --pool NAME`` builds for this pool."""
    pool = pool_config(doc)
    boot, drain, rate, seed = 120.0, 0.0, 0.0, 0
    if pool.provider.kind == "simulated":
        opts = pool.provider.options
        boot = float(opts.get("boot_delay", boot))
        drain = float(opts.get("drain_time", drain))
        rate = float(opts.get("boot_failure_rate", rate))
        seed = int(opts.get("seed", seed))
    fleet = FleetSettings(boot_delay=boot, drain_time=drain, boot_failure_rate=rate, seed=seed)
    return Scenario(trace_interval, np.asarray(loads, dtype=np.float64), pool.decision_spec(), pool.types(),
                    pool.interval, fleet)


@dataclass(frozen=True, slots=True)
class Task:
    """One run to make: a pool document (or a named policy on it) over some loads."""

    key: int
    doc: dict[str, Any]
    loads: Array
    trace_interval: float
    #: a named policy instead of the document's (an anchor); None: the document's
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class Done:
    key: int
    figures: Figures
    body: dict[str, Any]


def evaluate(task: Task) -> Done:
    from fleetscale.journal.log import configure_logging

    configure_logging("warning")  # a worker process (local or Dask) logs only what goes wrong
    sc = scenario(task.doc, task.loads, task.trace_interval)
    outcome = run_policy(sc, task.policy)
    oracle = run_policy(sc, "oracle")
    body = report.report(sc, outcome, oracle)
    return Done(task.key, Figures.of(body), body)
