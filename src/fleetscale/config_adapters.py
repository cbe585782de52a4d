"""Adapter options checked by each adapter's own ``Settings`` model, and the strict JSON-mode
validation every part of a configuration goes through.

``validate_json`` hands pydantic the document as JSON text with ``strict=True``: a number field
refuses ``true``/``yes`` and text, a whole-number field refuses ``1.5``, while lists still fill
tuples and ISO strings still fill datetimes (as JSON allows).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fleetscale import registry
from fleetscale.config_errors import format_errors
from fleetscale.errors import ConfigError

if TYPE_CHECKING:
    from fleetscale.config import AdapterSpec, Config


def _json(data: Any) -> str:
    """``data`` as JSON text, so that pydantic validates it strictly as JSON: a number field
    refuses ``true``/``yes`` and text, a whole-number field refuses 1.5."""

    def plain(value: Any) -> Any:
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    return json.dumps(data, default=plain, allow_nan=False)


def validate_json(model: Any, data: Any) -> Any:
    return model.model_validate_json(_json(data), strict=True)


def _check_one(role: str, kind: str, options: Mapping[str, Any], where: str, problems: list[str]) -> Any:
    """Validate one adapter's options with its module's Settings; None (and problems) if bad."""
    try:
        module = registry.module_for(role, kind)
    except ConfigError:
        known = ", ".join(sorted(registry.KINDS[role]))
        problems.append(f"{where}.kind: unknown {role} kind; known: {known} (got {kind})")
        return None
    except ImportError as exc:
        problems.append(f"{where}.kind: {role} {kind!r} is not available: {exc} (got {kind})")
        return None
    try:
        return validate_json(module.Settings, dict(options))
    except ValidationError as exc:
        problems.extend(format_errors(exc, options, where))
        return None


def adapter_problems(config: Config) -> tuple[list[str], dict[tuple[str, int | None, str], Any]]:
    problems: list[str] = []
    settings: dict[tuple[str, int | None, str], Any] = {}

    def check(role: str, spec: AdapterSpec, where: str, key: tuple[str, int | None, str]) -> None:
        got = _check_one(role, spec.kind, spec.options, where, problems)
        if got is not None:
            settings[key] = got

    for i, pool in enumerate(config.pools):
        for j, src in enumerate(pool.sources):
            check("source", src, f"pools.{i}.sources.{j}", (pool.name, j, "source"))
        check("provider", pool.provider, f"pools.{i}.provider", (pool.name, None, "provider"))
        check("drainer", pool.drainer, f"pools.{i}.drainer", (pool.name, None, "drainer"))
    for j, sink in enumerate(config.journal.sinks):
        check("sink", sink, f"journal.sinks.{j}", ("", j, "sink"))
    return problems, settings


def raw_adapter_problems(data: Mapping[str, Any]) -> list[str]:
    """Adapter problems of a document that failed validation elsewhere, so that ``check``
    reports them all at once (best effort on the raw mappings)."""
    found: list[tuple[str, Any, str]] = []
    pools = data.get("pools")
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        if not isinstance(pool, Mapping):
            continue
        sources = pool.get("sources")
        for j, src in enumerate(sources if isinstance(sources, list) else []):
            found.append(("source", src, f"pools.{i}.sources.{j}"))
        found.append(("provider", pool.get("provider"), f"pools.{i}.provider"))
        found.append(("drainer", pool.get("drainer"), f"pools.{i}.drainer"))
    journal = data.get("journal")
    sinks = journal.get("sinks") if isinstance(journal, Mapping) else None
    for j, sink in enumerate(sinks if isinstance(sinks, list) else []):
        found.append(("sink", sink, f"journal.sinks.{j}"))
    problems: list[str] = []
    for role, spec, where in found:
        if isinstance(spec, Mapping) and isinstance(spec.get("kind"), str):
            _check_one(role, spec["kind"], {k: v for k, v in spec.items() if k != "kind"}, where, problems)
    return problems
