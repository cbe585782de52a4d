"""What ``tune`` writes: the tuned pool configuration (a complete file ``fleetscale check``
accepts), the JSON report, and the plot of the Pareto front with the chosen point and the
anchors on the same axes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from fleetscale.tune.run import Tuned
from fleetscale.tune.search import Tried, pareto


def write_config(tuned: Tuned, path: str | Path) -> None:
    head = ("# written by fleetscale tune: the cheapest settings found that meet the objective "
            f"{tuned.slo.as_dict()} on the tuning part of the input\n")
    body = yaml.safe_dump({"pools": [tuned.doc]}, sort_keys=False, default_flow_style=False)
    Path(path).write_text(head + body, encoding="utf-8")


def _point(t: Tried) -> dict[str, Any]:
    return {"params": t.params.as_dict(), **t.figures.as_dict()}


def report(tuned: Tuned, **extra: Any) -> dict[str, Any]:
    ins, held = tuned.meets_in_sample, tuned.meets_held_out
    if not ins:
        verdict = "the objective is not met even in-sample: the cheapest of the closest misses was chosen"
    elif held is False:
        verdict = ("WARNING: the objective is met in-sample but NOT on the held-out part "
                   "(over-fitted, or the traffic changed): do not trust these settings as they are")
    elif held:
        verdict = "the objective is met in-sample and on the held-out part"
    else:
        verdict = "the objective is met in-sample (nothing held out)"
    return {
        **extra,
        "objective": {"tau_under_percent": tuned.slo.tau_under, "unserved_percent": tuned.slo.unserved},
        "search": {"method": tuned.method, "budget": len(tuned.tried)},
        "split": {"rows": tuned.rows, "tuned_on_rows": tuned.split,
                  "held_out_rows": tuned.rows - tuned.split},
        "verdict": verdict,
        "meets_in_sample": ins,
        "meets_held_out": held,
        "chosen": {
            **_point(tuned.chosen),
            "held_out": tuned.held_out.as_dict() if tuned.held_out else None,
        },
        "whole_input": tuned.whole,
        "anchors": {name: {part: f.as_dict() for part, f in parts.items()}
                    for name, parts in tuned.anchors.items()},
        "pareto_front": [_point(t) for t in pareto(tuned.tried)],
        "tried": [_point(t) for t in tuned.tried],
    }


def write_report(body: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")


def plot(tuned: Tuned, path: str | Path, title: str = "") -> None:
    """Instance-hours vs. % of time under-provisioned, in-sample: every run tried, the Pareto
    front, the chosen point, the anchors, and the objective's limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    xs = [t.figures.instance_hours for t in tuned.tried]
    ys = [t.figures.tau_under for t in tuned.tried]
    ax.scatter(xs, ys, s=14, color="#9aa5b1", label=f"tried ({len(xs)})", zorder=2)
    front = pareto(tuned.tried)
    ax.plot([t.figures.instance_hours for t in front], [t.figures.tau_under for t in front], "-o",
            color="#1f6feb", ms=4, lw=1.2, label="Pareto front", zorder=3)
    c = tuned.chosen.figures
    ax.scatter([c.instance_hours], [c.tau_under], marker="*", s=220, color="#d1242f", zorder=5,
               label="chosen")
    for name, parts in tuned.anchors.items():
        f = parts.get("in_sample")
        if f is None:
            continue
        ax.scatter([f.instance_hours], [f.tau_under], marker="D", s=36, color="#6e40c9", zorder=4)
        ax.annotate(name, (f.instance_hours, f.tau_under), textcoords="offset points", xytext=(5, 4),
                    fontsize=8, color="#6e40c9")
    ax.axhline(tuned.slo.tau_under, color="#d1242f", lw=0.8, ls="--", label="objective tau_under")
    ax.set_xlabel("instance-hours (tuning part)")
    ax.set_ylabel("under-provisioned time, tau_under (%)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_title(title or "fleetscale tune: cost vs under-provisioning", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
