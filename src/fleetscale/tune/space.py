"""The settings ``tune`` searches: the recommended family (a reactive ``target`` policy, an
optional ``predictive`` one whose noise headroom is either the volatility z-margin or learnt
from its own forecast errors, the governor's scale-down window and hysteresis), as a value, and
how a value becomes a pool's ``policies`` and ``governor``.

Every number is rounded to what the configuration file shows (so the file written is exactly
what was simulated).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal, Protocol

from fleetscale.policy import recommended

#: the ranges searched
UTILISATION = (0.5, 0.98)
QUANTILE = (0.5, 0.995)
DOWN_WINDOW = (0.0, 1800.0)
HYSTERESIS = (1, 10)
WINDOWS = (900.0, 1800.0, 3600.0, 7200.0)
HEADROOMS = ("volatility", "learnt")
#: the learnt headroom: the quantile of the forecast errors, and how many errors (cycles) it is
#: taken over (12 h, 1 day, 2 days, 4 days of 1-minute cycles)
ERROR_QUANTILE = (0.9, 0.999)
ERROR_WINDOWS = (720, 1440, 2880, 5760)
#: errors taken only from forecasts made at a similar reading (within this factor; 0: all)
ERROR_BANDS = (0.0, 2.0)

Headroom = Literal["volatility", "learnt"]


class Suggest(Protocol):
    """What a search asks for one setting (an Optuna trial or a seeded random draw)."""

    def suggest_float(self, name: str, low: float, high: float) -> float: ...
    def suggest_int(self, name: str, low: int, high: int) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Params:
    """One point of the search space."""

    #: the reactive ``target`` policy's utilisation (used when ``reactive`` or no forecast)
    utilisation: float
    forecast: bool
    forecast_utilisation: float
    #: the forecast's noise headroom as a quantile of the change over the lead time (0.5: none),
    #: written as ``volatility`` z; with the learnt headroom, the prior used until
    #: ``recommended.ERROR_MIN`` errors are known
    quantile: float
    volatility_window: float
    down_window: float
    down_hysteresis: int
    #: a reactive ``target`` policy beside the forecast (always one without a forecast)
    reactive: bool = True
    #: the forecast's headroom: ``volatility`` (the z-margin alone) or ``learnt`` (the
    #: ``error_quantile`` of its last ``error_window`` forecast errors)
    headroom: Headroom = "volatility"
    error_quantile: float = recommended.ERROR_QUANTILE
    error_window: int = recommended.ERROR_WINDOW
    error_band: float = recommended.ERROR_BAND

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def policies(self, horizon: float) -> list[dict[str, Any]]:
        """The pool's ``policies:`` entries (``horizon``: boot delay + interval)."""
        out: list[dict[str, Any]] = []
        if self.reactive or not self.forecast:
            out.append({"kind": "target", "name": "reactive", "utilisation": self.utilisation})
        if self.forecast:
            z = round(NormalDist().inv_cdf(self.quantile), 3) if self.quantile > 0.5 else 0.0
            predictive: dict[str, Any] = {
                "kind": "predictive", "name": "predictive", "utilisation": self.forecast_utilisation,
                "horizon": horizon, "volatility": z, "volatility_window": self.volatility_window}
            if self.headroom == "learnt":
                predictive.update(error_quantile=self.error_quantile, error_window=self.error_window,
                                  error_min=recommended.ERROR_MIN, error_band=self.error_band)
            out.append(predictive)
        return out

    def governor(self) -> dict[str, Any]:
        return {"down": {"stabilisation": self.down_window, "hysteresis": self.down_hysteresis}}


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


def suggest(s: Suggest) -> Params:
    forecast = bool(s.suggest_categorical("forecast", [True, False]))
    return Params(
        utilisation=_r(s.suggest_float("utilisation", *UTILISATION)),
        forecast=forecast,
        forecast_utilisation=_r(s.suggest_float("forecast_utilisation", *UTILISATION)),
        quantile=_r(s.suggest_float("quantile", *QUANTILE), 4),
        volatility_window=float(s.suggest_categorical("volatility_window", list(WINDOWS))),
        down_window=_r(s.suggest_float("down_window", *DOWN_WINDOW), 0),
        down_hysteresis=int(s.suggest_int("down_hysteresis", *HYSTERESIS)),
        reactive=bool(s.suggest_categorical("reactive", [True, False])) or not forecast,
        headroom=s.suggest_categorical("headroom", list(HEADROOMS)),
        error_quantile=_r(s.suggest_float("error_quantile", *ERROR_QUANTILE)),
        error_window=int(s.suggest_categorical("error_window", list(ERROR_WINDOWS))),
        error_band=float(s.suggest_categorical("error_band", list(ERROR_BANDS))),
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


#: today's recommended default (``recommended_policies`` and ``recommended_governor``): one
#: ``predictive`` policy with the learnt headroom and its volatility prior, no reactive
#: ``target``, the 5-minute scale-down window. Its prior's quantile needs four digits (0.6915
#: is z 0.5; the nearest three-digit ones are z 0.499 and 0.502), hence ``suggest``'s four.
DEFAULT = Params(
    utilisation=recommended.UTILISATION,  # unused: no reactive target
    forecast=True,
    forecast_utilisation=recommended.UTILISATION,
    quantile=round(NormalDist().cdf(recommended.VOLATILITY), 4),
    volatility_window=3600.0,
    down_window=recommended.DOWN_WINDOW,
    down_hysteresis=1,
    reactive=False,
    headroom="learnt",
    error_quantile=recommended.ERROR_QUANTILE,
    error_window=recommended.ERROR_WINDOW,
    error_band=recommended.ERROR_BAND,
)

#: the starting points every search tries first: today's recommended default (so the chosen
#: settings are never worse in-sample than the default when it meets the objective), the
#: previous one (reactive 0.88, forecast 0.92 with z 0.5, here 0.499) and two of its neighbours
SEEDS = (
    DEFAULT,
    Params(0.88, True, 0.92, 0.691, 3600.0, 300.0, 1),
    Params(0.8, True, 0.85, 0.841, 3600.0, 600.0, 1),
    Params(0.95, False, 0.92, 0.5, 3600.0, 300.0, 1),
)
