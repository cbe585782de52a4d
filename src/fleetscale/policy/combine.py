"""Combine proposals (pure): the safest wins.

The highest desired capacity wins (scale up beats hold beats scale down). Abstaining
proposals (``desired`` None: no data) are listed but never win. Floors and ceilings that
proposals carry (schedule windows) are gathered as bounds: the highest floor and the lowest
ceiling; the governor applies them with the pool's min/max.
"""

from __future__ import annotations

from typing import NamedTuple

from fleetscale.model import Proposal


class Combined(NamedTuple):
    #: None when every policy abstained
    desired: int | None
    reason: str
    floor: int | None
    ceiling: int | None
    floor_reason: str = ""
    ceiling_reason: str = ""


def combine(proposals: tuple[Proposal, ...] | list[Proposal]) -> Combined:
    winner: Proposal | None = None
    runner: Proposal | None = None
    floor: Proposal | None = None
    ceiling: Proposal | None = None
    #: the desires of winner and runner (meaningful once they are set)
    best = second = 0
    lo: int | None = None
    hi: int | None = None
    for p in proposals:
        desired = p.desired
        if desired is not None:
            if winner is None or desired > best:
                winner, runner, best, second = p, winner, desired, best
            elif runner is None or desired > second:
                runner, second = p, desired
        if p.floor is not None and (lo is None or p.floor > lo):
            floor, lo = p, p.floor
        if p.ceiling is not None and (hi is None or p.ceiling < hi):
            ceiling, hi = p, p.ceiling
    lo_text = f"floor {lo} from {floor.policy}" if floor is not None else ""
    hi_text = f"ceiling {hi} from {ceiling.policy}" if ceiling is not None else ""
    if winner is None:
        abstained = ", ".join(p.policy for p in proposals) or "none configured"
        return Combined(None, f"no policy proposed a capacity ({abstained})", lo, hi, lo_text, hi_text)
    reason = f"{winner.policy}: {winner.reason}"
    if runner is not None:
        reason += f" [over {runner.policy} -> {runner.desired}]"
    if len(proposals) > 1:
        silent = [p.policy for p in proposals if p.desired is None]
        if silent:
            reason += f" [no proposal from {', '.join(silent)}]"
    return Combined(winner.desired, reason, lo, hi, lo_text, hi_text)
