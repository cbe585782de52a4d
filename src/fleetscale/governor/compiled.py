"""The governor's constants for one pool, computed once per decision spec.

``compile_governor`` turns the settings (seconds, as configured) and the pool's bounds and
operator controls into the values the rules compare against every cycle: windows and step
periods as ``timedelta``, whether a direction has a step limit, and how much history the
memory must keep. It is part of the compiled spec (``decide.compile_spec``), which the caller
builds once and passes in; nothing is cached here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fleetscale.governor import bounds
from fleetscale.governor.manual import Override
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import Direction


@dataclass(frozen=True, slots=True)
class CompiledDirection:
    """One direction's rules with their durations as ``timedelta``."""

    rules: DirectionRules
    #: the stabilisation window
    window: timedelta
    #: the step-limit period
    period: timedelta
    #: a step limit is set (count and/or percent)
    limited: bool


def compile_direction(rules: DirectionRules) -> CompiledDirection:
    limited = rules.max_step_count is not None or rules.max_step_percent is not None
    return CompiledDirection(
        rules, timedelta(seconds=rules.stabilisation), timedelta(seconds=rules.step_period), limited
    )


@dataclass(frozen=True, slots=True)
class CompiledGovernor:
    """Everything the governor applies besides the cycle's demand and its memory."""

    pool_min: int
    pool_max: int
    settings: GovernorSettings
    up: CompiledDirection
    down: CompiledDirection
    paused: frozenset[Direction] = frozenset()
    override: Override | None = None
    #: history the stabilisation windows need: the longer window (0 = keep none)
    window_keep: timedelta = timedelta(0)
    #: history the step limits need: the longer period of a limited direction (0 = keep none)
    change_keep: timedelta = timedelta(0)
    #: the effective (lo, hi) when no policy sets a floor or a ceiling (``bounds.effective``)
    plain_bounds: tuple[int, int] = (0, 0)


def compile_governor(
    settings: GovernorSettings,
    pool_min: int,
    pool_max: int,
    paused: frozenset[Direction] = frozenset(),
    override: Override | None = None,
) -> CompiledGovernor:
    up, down = compile_direction(settings.up), compile_direction(settings.down)
    window = max(settings.up.stabilisation, settings.down.stabilisation)
    period = 0.0
    if up.limited:
        period = settings.up.step_period
    if down.limited:
        period = max(period, settings.down.step_period)
    return CompiledGovernor(
        pool_min,
        pool_max,
        settings,
        up,
        down,
        paused,
        override,
        timedelta(seconds=window),
        timedelta(seconds=period),
        bounds.effective(pool_min, pool_max, None, None),
    )
