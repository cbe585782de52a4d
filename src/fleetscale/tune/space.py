"""The settings ``tune`` searches: the recommended family (a reactive ``target`` policy, an
optional ``predictive`` one with a noise headroom, the governor's scale-down window and
hysteresis), as a value, and how a value becomes a pool's ``policies`` and ``governor``.

Every number is rounded to what the configuration file shows (so the file written is exactly
what was simulated).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Protocol

#: the ranges searched
UTILISATION = (0.5, 0.98)
QUANTILE = (0.5, 0.995)
DOWN_WINDOW = (0.0, 1800.0)
HYSTERESIS = (1, 10)
WINDOWS = (900.0, 1800.0, 3600.0, 7200.0)


class Suggest(Protocol):
    """What a search asks for one setting (an Optuna trial or a seeded random draw)."""

    def suggest_float(self, name: str, low: float, high: float) -> float: ...
    def suggest_int(self, name: str, low: int, high: int) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Params:
    """One point of the search space."""

    utilisation: float
    forecast: bool
    forecast_utilisation: float
    #: the forecast's noise headroom as a quantile of the change over the lead time (0.5: none)
    quantile: float
    volatility_window: float
    down_window: float
    down_hysteresis: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def policies(self, horizon: float) -> list[dict[str, Any]]:
        """The pool's ``policies:`` entries (``horizon``: boot delay + interval)."""
        out: list[dict[str, Any]] = [{"kind": "target", "name": "reactive", "utilisation": self.utilisation}]
        if self.forecast:
            z = round(NormalDist().inv_cdf(self.quantile), 3) if self.quantile > 0.5 else 0.0
            out.append({"kind": "predictive", "name": "predictive", "utilisation": self.forecast_utilisation,
                        "horizon": horizon, "volatility": z, "volatility_window": self.volatility_window})
        return out

    def governor(self) -> dict[str, Any]:
        return {"down": {"stabilisation": self.down_window, "hysteresis": self.down_hysteresis}}


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


def suggest(s: Suggest) -> Params:
    return Params(
        utilisation=_r(s.suggest_float("utilisation", *UTILISATION)),
        forecast=bool(s.suggest_categorical("forecast", [True, False])),
        forecast_utilisation=_r(s.suggest_float("forecast_utilisation", *UTILISATION)),
        quantile=_r(s.suggest_float("quantile", *QUANTILE)),
        volatility_window=float(s.suggest_categorical("volatility_window", list(WINDOWS))),
        down_window=_r(s.suggest_float("down_window", *DOWN_WINDOW), 0),
        down_hysteresis=int(s.suggest_int("down_hysteresis", *HYSTERESIS)),
    )


class RandomDraw:
    """Uniform draws from a seeded generator (the plain random search)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def suggest_float(self, name: str, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.rng.choice(list(choices))


#: the starting points every search tries first: the previous recommended default (reactive 0.88,
#: forecast 0.92, z 0.5; today's default learns its headroom, which this family cannot express
#: yet) and two neighbours
SEEDS = (
    Params(0.88, True, 0.92, 0.691, 3600.0, 300.0, 1),
    Params(0.8, True, 0.85, 0.841, 3600.0, 600.0, 1),
    Params(0.95, False, 0.92, 0.5, 3600.0, 300.0, 1),
)
