"""What a readable report of one run shows, as one typed value (``ReportData``).

Built from a run's ``Timeline`` (its series, interval, capacity, recorded decisions) and the
oracle's ``Timeline`` on the same trace; the renderers (``sim.html``, ``sim.plot``) read only
this value, never the simulator's internals. The oracle may run on a coarser grid than the
policy (HPA decides every 15 s, the oracle every pool interval): its series is mapped onto the
policy's grid by holding each oracle step's value over its span.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from fleetscale.model import Decision
from fleetscale.sim.episodes import Episode, find_episodes, worst_episodes
from fleetscale.sim.metrics import Scores
from fleetscale.sim.run import START, Timeline

#: report key -> (unit, one line a person can read); in the order the report lists them
MEANING: dict[str, tuple[str, str]] = {
    "cost_vs_oracle": ("x", "instance-hours paid for, as a multiple of the oracle's (perfect foresight, "
                            "never short); 1.00 is the floor"),
    "tau_under": ("%", "share of the time with fewer units in service than the load demands"),
    "theta_under": ("%", "missing share of the demanded units, averaged over time (how deep the holes are)"),
    "unserved_fraction": ("%", "share of all load above the capacity in service (load that could not be "
                               "served)"),
    "instance_hours": ("h", "units paid for (booting + in service + draining) summed over time"),
    "cost": ("", "instance-hours times the instance type's price per hour"),
    "demand_instance_hours": ("h", "units the load demanded summed over time: the bill of a perfect, "
                                   "instantaneous fleet"),
    "cost_ratio": ("x", "instance-hours paid for / instance-hours demanded"),
    "tau_over": ("%", "share of the time with more units in service than the load demands"),
    "theta_over": ("%", "surplus units in service as a share of demand, averaged over time"),
    "instability": ("%", "share of the time the fleet and the demand do not move the same way "
                         "(one grows while the other holds or shrinks)"),
    "jitter": ("/h", "fleet size changes minus demand changes per hour (negative: smoother than the demand)"),
    "scale_actions": ("", "decision intervals in which the controller launched, drained, cancelled or "
                          "terminated something"),
}


@dataclass(frozen=True, slots=True)
class Score:
    key: str
    value: float
    oracle: float | None
    unit: str
    meaning: str


@dataclass(frozen=True, slots=True)
class DecisionLine:
    """One decision near an episode, with the fleet as the harness recorded it."""

    step: int
    t_s: float
    current: int
    desired: int
    demanded: int
    ready: int
    reason: str
    #: taken while the pool was under-provisioned
    during: bool


@dataclass(frozen=True, slots=True)
class EpisodeView:
    episode: Episode
    decisions: tuple[DecisionLine, ...]
    #: decisions in the window left out to keep the list short
    omitted: int


@dataclass(frozen=True, slots=True)
class Series:
    """One value per decision interval of the run."""

    t: tuple[float, ...]
    #: load / unit capacity: the units the load would fill exactly
    load_units: tuple[float, ...]
    demanded: tuple[int, ...]
    ready: tuple[int, ...]
    provisioned: tuple[int, ...]
    oracle_provisioned: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    title: str
    policy: str
    #: the simulated clock at t = 0
    start: datetime
    interval: float
    capacity: float
    series: Series
    scores: tuple[Score, ...]
    episodes: tuple[EpisodeView, ...]
    #: every under-provisioned episode of the run (``episodes`` holds the worst of them)
    episode_count: int
    settings: tuple[tuple[str, str], ...]
    decisions_recorded: bool


def oracle_on_grid(t: np.ndarray, oracle: Timeline) -> np.ndarray:
    """The oracle's provisioned units held over each of its steps, read at the times ``t``."""
    if len(oracle.t) == 0:
        return np.zeros(len(t), dtype=np.int64)
    idx = np.searchsorted(oracle.t, np.asarray(t, dtype=np.float64), side="right") - 1
    return np.asarray(oracle.provisioned)[np.clip(idx, 0, len(oracle.t) - 1)]


def scores_of(scores: Scores, oracle: Scores) -> tuple[Score, ...]:
    mine, best = scores.as_dict(), oracle.as_dict()
    vs = mine["instance_hours"] / best["instance_hours"] if best["instance_hours"] > 0 else float("inf")
    mine["cost_vs_oracle"], best["cost_vs_oracle"] = vs, 1.0
    out = []
    for key, (unit, meaning) in MEANING.items():
        value, other = float(mine[key]), float(best[key])
        if key == "unserved_fraction":
            value, other = 100 * value, 100 * other
        out.append(Score(key, value, other, unit, meaning))
    return tuple(out)


def by_step(timeline: Timeline, start: datetime = START) -> dict[int, Decision]:
    """The recorded decisions keyed by the step they were taken in (one per step when the
    harness recorded every cycle; placed by their time otherwise)."""
    decisions = timeline.decisions
    if len(decisions) == len(timeline.t):
        return dict(enumerate(decisions))
    seconds = np.asarray([(d.at - start).total_seconds() for d in decisions], dtype=np.float64)
    steps = np.searchsorted(np.asarray(timeline.t, dtype=np.float64), seconds, side="right") - 1
    return {int(k): d for k, d in zip(steps.tolist(), decisions, strict=True) if 0 <= k < len(timeline.t)}


def decisions_near(episode: Episode, timeline: Timeline, *, before_s: float = 900.0, limit: int = 12,
                   start: datetime = START) -> tuple[tuple[DecisionLine, ...], int]:
    """The decisions from ``before_s`` before the episode to its end that changed the fleet,
    plus the one taken as it began and the last one inside it (what the pool thought then)."""
    decisions = by_step(timeline, start)
    if not decisions:
        return (), 0
    lo = max(0, episode.start - int(np.ceil(before_s / timeline.interval)))
    hi = min(len(timeline.t), episode.end + 1)
    keep = [k for k in range(lo, hi) if k in decisions
            and (decisions[k].desired != decisions[k].current or k in (episode.start, episode.end - 1))]
    omitted = max(0, len(keep) - limit)
    if omitted:  # keep the earliest (how it started) and the latest (how it ended)
        keep = keep[:limit // 2] + keep[len(keep) - (limit - limit // 2):]
    return tuple(_line(k, decisions[k], timeline, episode) for k in keep), omitted


def _line(k: int, d: Decision, timeline: Timeline, episode: Episode) -> DecisionLine:
    return DecisionLine(step=k, t_s=float(timeline.t[k]), current=d.current, desired=d.desired,
                        demanded=int(timeline.demanded[k]), ready=int(timeline.ready[k]),
                        reason=d.reason, during=episode.start <= k < episode.end)


def build(timeline: Timeline, oracle: Timeline, *, title: str, policy: str,
          settings: Mapping[str, object] | None = None, worst: int = 5,
          start: datetime = START) -> ReportData:
    """The report of ``timeline`` (the run) against ``oracle`` (the same trace, perfect foresight)."""
    t = np.asarray(timeline.t, dtype=np.float64)
    views = []
    for episode in worst_episodes(timeline.demanded, timeline.ready, timeline.interval, count=worst):
        lines, omitted = decisions_near(episode, timeline, start=start)
        views.append(EpisodeView(episode, lines, omitted))
    series = Series(
        t=tuple(t.tolist()),
        load_units=tuple((np.asarray(timeline.load, dtype=np.float64) / timeline.capacity).tolist()),
        demanded=tuple(np.asarray(timeline.demanded).tolist()),
        ready=tuple(np.asarray(timeline.ready).tolist()),
        provisioned=tuple(np.asarray(timeline.provisioned).tolist()),
        oracle_provisioned=tuple(oracle_on_grid(t, oracle).tolist()),
    )
    return ReportData(
        title=title,
        policy=policy,
        start=start.astimezone(UTC),
        interval=timeline.interval,
        capacity=timeline.capacity,
        series=series,
        scores=scores_of(timeline.scores(), oracle.scores()),
        episodes=tuple(views),
        episode_count=len(find_episodes(timeline.demanded, timeline.ready, timeline.interval)),
        settings=tuple((k, _shown(v)) for k, v in (settings or {}).items() if v is not None),
        decisions_recorded=bool(timeline.decisions),
    )


def _shown(value: object) -> str:
    """A setting as a person reads it (a group of settings as ``key value, ...``)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)
