"""Timeline plots (matplotlib, Agg backend: no display needed).

One image, readable for a run of any length: an overview of the whole run (per column of
pixels the highest load, demand and provisioned count and the lowest ready count, so no
spike or hole disappears in a month of minutes), a zoom on the worst day (the day of the
worst under-provisioned episode, or of the highest demand when there is none) and a close-up
of the worst episode. Under-provisioned intervals are shaded red in every panel. Load is
drawn in units (load / unit capacity) on the left axis; the right axis reads it as load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from fleetscale.sim.episodes import around, worst_day, worst_episodes
from fleetscale.sim.report_data import oracle_on_grid
from fleetscale.sim.run import START, Timeline

#: overview columns: about one per pixel of the panel
BUCKETS = 1400
#: the worst episodes marked on the overview
MARKED = 5
COLOURS = {"load": "tab:orange", "demanded": "black", "ready": "tab:green", "provisioned": "tab:blue"}


def _bucket(values: npt.NDArray[np.float64], size: int, how: str) -> npt.NDArray[np.float64]:
    n = len(values)
    pad = (-n) % size
    fill = -np.inf if how == "max" else np.inf
    grid = np.concatenate((values, np.full(pad, fill))).reshape(-1, size)
    return np.asarray(grid.max(axis=1) if how == "max" else grid.min(axis=1), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Zoom:
    """A zoom panel: its title and the rows ``[start, end)`` it shows."""

    label: str
    start: int
    end: int


class _Panel:
    """The series of one run, already cut to ``n`` rows, drawn onto an axis between two indices."""

    def __init__(self, timeline: Timeline, n: int, others: dict[str, Timeline], start: datetime) -> None:
        t = np.asarray(timeline.t[:n], dtype=np.float64)
        self.capacity = timeline.capacity
        self.x = np.asarray([np.datetime64(start.replace(tzinfo=None))], dtype="datetime64[ms]") + \
            (t * 1000).astype("timedelta64[ms]")
        self.step = np.timedelta64(int(timeline.interval * 1000), "ms")
        self.series: dict[str, npt.NDArray[np.float64]] = {
            "load": np.asarray(timeline.load[:n], dtype=np.float64) / timeline.capacity,
            "demanded": np.asarray(timeline.demanded[:n], dtype=np.float64),
            "ready": np.asarray(timeline.ready[:n], dtype=np.float64),
            "provisioned": np.asarray(timeline.provisioned[:n], dtype=np.float64),
        }
        self.others = {name: np.asarray(oracle_on_grid(t, o), dtype=np.float64) for name, o in others.items()}
        self.short = self.series["ready"] < self.series["demanded"]

    def draw(self, ax: Axes, lo: int, hi: int, *, overview: bool = False) -> None:
        n = hi - lo
        size = max(1, -(-n // BUCKETS)) if overview else 1
        xs = self.x[lo:hi:size]
        edge = np.append(xs, xs[-1] + self.step * size)

        def col(values: npt.NDArray[np.float64], how: str) -> npt.NDArray[np.float64]:
            cut = values[lo:hi]
            return _bucket(cut, size, how) if size > 1 else cut

        def steps(values: npt.NDArray[np.float64], **kw: object) -> None:
            ax.stairs(values, edge, baseline=None, **kw)  # type: ignore[arg-type]

        short = col(self.short.astype(np.float64), "max") > 0
        ax.fill_between(edge, 0, 1, where=np.append(short, False), step="post", color="tab:red", alpha=0.18,
                        lw=0, transform=ax.get_xaxis_transform(), label="under-provisioned")
        load_hi = col(self.series["load"], "max")
        if size > 1:
            ax.fill_between(edge, np.append(col(self.series["load"], "min"), 0), np.append(load_hi, 0),
                            step="post", color=COLOURS["load"], alpha=0.35, lw=0, label="load (units)")
        else:
            steps(load_hi, color=COLOURS["load"], lw=0.8, alpha=0.9, label="load (units)")
        steps(col(self.series["demanded"], "max"), color=COLOURS["demanded"], lw=1.0, label="demanded")
        steps(col(self.series["ready"], "min"), color=COLOURS["ready"], lw=1.0, label="ready")
        steps(col(self.series["provisioned"], "max"), color=COLOURS["provisioned"], lw=0.8, alpha=0.8,
              label="provisioned")
        for name, values in self.others.items():
            steps(col(values, "max"), color="tab:purple", lw=0.9, ls="--", label=f"{name} provisioned")
        top = max(1.0, *(float(col(v, "max").max(initial=1)) for v in self.series.values()))
        ax.set_ylim(0, top * 1.08)
        ax.set_xlim(edge[0], edge[-1])
        ax.set_ylabel("units")
        cap = self.capacity

        def as_load(units: npt.ArrayLike) -> npt.NDArray[np.float64]:
            return np.asarray(units, dtype=np.float64) * cap

        def as_units(load: npt.ArrayLike) -> npt.NDArray[np.float64]:
            return np.asarray(load, dtype=np.float64) / cap

        right = ax.secondary_yaxis("right", functions=(as_load, as_units))
        right.set_ylabel("load")
        ax.grid(alpha=0.25, lw=0.5)


def _level(at: float, placed: list[tuple[float, int]], near: float = 0.02) -> int:
    """The lowest row of labels with none within ``near`` (a share of the width) of ``at``."""
    level = 0
    while any(abs(at - x) < near and row == level for x, row in placed):
        level += 1
    placed.append((at, level))
    return level


def _when(panel: _Panel, k: int) -> str:
    return str(panel.x[k].astype(datetime).strftime("%a %Y-%m-%d %H:%M"))


def _dates(ax: Axes, span_s: float) -> None:
    if span_s > 3 * 86400:
        days = max(1, round(span_s / 86400 / 16))
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=days))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %m-%d"))  # type: ignore[no-untyped-call]
    else:
        locator = mdates.AutoDateLocator(minticks=6, maxticks=14)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def plot_timeline(timeline: Timeline, path: str | Path, title: str = "",
                  others: dict[str, Timeline] | None = None, limit: int | None = None,
                  start: datetime = START) -> tuple[Zoom, ...]:
    """Overview, worst day and worst episode of a run, in one PNG; returns the zoom panels
    drawn below the overview (none for a run of at most a day that was never short).

    ``others`` adds the provisioned curve of other runs (e.g. the oracle), mapped onto this
    run's steps; ``limit`` plots the first ``limit`` rows only."""
    n = len(timeline.t) if limit is None else min(limit, len(timeline.t))
    if n == 0:
        raise ValueError("nothing to plot: the timeline is empty")
    panel = _Panel(timeline, n, others or {}, start)
    demanded, ready, dt = timeline.demanded[:n], timeline.ready[:n], timeline.interval
    worst = worst_episodes(demanded, ready, dt, count=MARKED)
    day = worst_day(demanded, ready, dt)
    zooms: list[Zoom] = []
    if day != (0, n):
        what = "the worst under-provisioned episode (#1)" if worst else "the highest demand (never short)"
        zooms.append(Zoom(f"{_when(panel, day[0])[:14]}, the day of {what}", *day))
    if worst:
        e = worst[0]
        lo, hi = around(e, n, dt)
        zooms.append(Zoom(f"worst under-provisioned episode (#1) at {_when(panel, e.start)}: "
                      f"{e.duration_s / 60:g} min, up to {e.peak_short} units short, "
                      f"{e.unit_hours:.2f} unit-hours short", lo, hi))
    fig, axes = plt.subplots(1 + len(zooms), 1, figsize=(14, 3.6 + 3.2 * len(zooms)), dpi=100,
                             gridspec_kw={"hspace": 0.45})
    axs = list(np.atleast_1d(axes))
    overview = axs[0]
    panel.draw(overview, 0, n, overview=True)
    _dates(overview, n * dt)
    bucket = max(1, -(-n // BUCKETS))
    what = f"the whole run, {n} steps of {dt:g} s"
    if bucket > 1:
        what += f" (per column: max load and demand, min ready over {bucket} steps)"
    overview.set_title((title + ": " if title else "") + what, fontsize=10, pad=30)
    placed: list[tuple[float, int]] = []
    for rank, e in enumerate(worst, 1):  # the worst episodes, numbered as in the HTML report
        at = panel.x[e.start]
        overview.plot([at], [1.0], marker="v", color="tab:red", ms=7, clip_on=False,
                      transform=overview.get_xaxis_transform())
        where = float(mdates.date2num(at))  # type: ignore[no-untyped-call]
        level = _level(e.start / n, placed)
        overview.annotate(f"#{rank}", (where, 1.0), xycoords=("data", "axes fraction"),
                          xytext=(0, 6 + 8 * level), textcoords="offset points", ha="center", fontsize=7,
                          color="tab:red")
    for k, zoom in enumerate(zooms, 1):
        lo, hi = zoom.start, zoom.end
        overview.axvspan(panel.x[lo], panel.x[hi - 1] + panel.step, color="0.5",
                         alpha=0.12 if k == 1 else 0.25, lw=0)
        ax = axs[k]
        panel.draw(ax, lo, hi)
        _dates(ax, (hi - lo) * dt)
        ax.set_title(f"zoom {k}: {zoom.label}", fontsize=10)
    handles, labels = overview.get_legend_handles_labels()
    more = axs[1].get_legend_handles_labels() if len(axs) > 1 else ([], [])
    seen = dict(zip(labels, handles, strict=True))
    for handle, label in zip(*more, strict=True):
        seen.setdefault(label, handle)
    fig.legend(list(seen.values()), list(seen.keys()), loc="upper center", ncol=len(seen), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.subplots_adjust(left=0.06, right=0.93, top=1 - 0.9 / fig.get_figheight(), bottom=0.06)
    fig.savefig(path)
    plt.close(fig)
    return tuple(zooms)
