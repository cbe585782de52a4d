"""Seed compatibility: ``Scaler`` (the gateway Scaler's methods on the engine), the seed's
JSON configuration (``gateway_config``) and its CSP object as a provider (``csp``).

``Scaler`` is imported lazily so that ``config.py`` can use ``gateway_config`` without pulling
in the controller."""

from __future__ import annotations

from typing import Any

__all__ = ["Scaler"]


def __getattr__(name: str) -> Any:
    if name == "Scaler":
        from fleetscale.compat.scaler import Scaler

        return Scaler
    raise AttributeError(f"module 'fleetscale.compat' has no attribute {name!r}")
