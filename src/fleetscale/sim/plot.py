"""Timeline plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from fleetscale.sim.run import Timeline


def plot_timeline(timeline: Timeline, path: str | Path, title: str = "",
                  others: dict[str, Timeline] | None = None, limit: int | None = None) -> None:
    """Load (in units of capacity, right axis), demanded, ready and provisioned over time.

    ``others`` adds the provisioned curve of other runs (e.g. the oracle) for comparison;
    ``limit`` plots the first ``limit`` rows only."""
    n = len(timeline.t) if limit is None else min(limit, len(timeline.t))
    hours = timeline.t[:n] / 3600.0
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    ax.step(hours, timeline.demanded[:n], where="post", color="black", lw=1.0, label="demanded")
    ax.step(hours, timeline.ready[:n], where="post", color="tab:green", lw=1.0, label="ready")
    ax.step(hours, timeline.provisioned[:n], where="post", color="tab:blue", lw=0.8, alpha=0.7,
            label="provisioned")
    for name, other in (others or {}).items():
        m = min(n, len(other.t))
        ax.step(other.t[:m] / 3600.0, other.provisioned[:m], where="post", lw=0.8, ls="--",
                label=f"{name} provisioned")
    ax.set_xlabel("hours")
    ax.set_ylabel("instances")
    load_ax = ax.twinx()
    load_ax.plot(hours, timeline.load[:n], color="tab:orange", lw=0.6, alpha=0.6, label="load")
    load_ax.set_ylabel("load")
    top = max(1.0, float(timeline.provisioned[:n].max(initial=1)),
              float(timeline.demanded[:n].max(initial=1)))
    ax.set_ylim(0, top * 1.1)
    load_ax.set_ylim(0, top * 1.1 * timeline.capacity)
    lines = ax.get_legend_handles_labels()
    more = load_ax.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8, ncol=3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
