"""ConfigError lines from pydantic's errors: ``path.to.field: message (got VALUE)``.

The path is the one the user wrote (union tags dropped), and what a value holds of secrets is
masked: values of keys named like secrets (at any depth) and passwords inside URLs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

_SECRET_WORDS = ("password", "secret", "token", "passwd", "credential")
#: ``scheme://user:PASSWORD@`` in a URL
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def _secret(name: str) -> bool:
    return any(w in name.lower() for w in _SECRET_WORDS)


def _redact(value: Any) -> Any:
    """``value`` with what it holds of secrets masked: keys named like secrets (at any depth,
    e.g. a whole adapter mapping a model validator rejected) and passwords in URLs."""
    if isinstance(value, Mapping):
        return {k: "***" if _secret(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\g<head>***@", value)
    return value


def redact(value: Any) -> Any:
    """``value`` with secrets masked (keys named like secrets, passwords in URLs): for text
    that leaves the process (errors, the HTTP API)."""
    return _redact(value)


def _show(path: str, value: Any) -> str:
    if _secret(path):
        return "***"
    value = _redact(value)
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """Join a pydantic location, dropping union tags (``policies.0.target.x`` -> ``policies.0.x``)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if (isinstance(node, Mapping) and isinstance(item, str) and item not in node
                and (node.get("kind") == item or item.startswith("function-"))):
            continue
        parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts)


def format_errors(exc: ValidationError, data: Any, prefix: str = "") -> list[str]:
    lines = []
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
            continue  # a list that lost its invalid items; the items' own errors say why
        path = _path(tuple(err["loc"]), data)
        path = f"{prefix}.{path}" if prefix and path else (prefix or path or "(document)")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{path}: {msg} (got nothing)")
        else:
            lines.append(f"{path}: {msg} (got {_show(path, err.get('input'))})")
    return lines
