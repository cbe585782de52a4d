"""Configuration text -> a decoded document, refusing what could hang, crash or be misread.

A configuration file is read once, whole, and only if it is reasonable:

- at most ``MAX_BYTES`` (32 MiB: 50,000 pools of ~600 bytes each), UTF-8 text (a BOM is
  allowed), no NUL byte;
- nesting at most ``MAX_DEPTH`` (32) levels deep;
- YAML aliases: at most ``MAX_ALIASES`` (100) uses, and they may add at most ``MAX_NODES``
  (100,000) nodes to the document (a node counted at every use, beyond the nodes written out),
  so a 600-byte "billion laughs" is refused in milliseconds while a long document without
  aliases (10,000 pools) is not;
  an alias to its own ancestor (a recursive document) is refused;
- no key given twice in one mapping (YAML: named with its line; JSON: named);
- YAML numbers read as YAML 1.2 reads them (``1e3`` is a number, ``10:30`` is text), and a
  number with a leading zero (``010``: octal 8 in YAML 1.1, ten to a reader) is refused
  rather than guessed; ``0x1F`` and ``0o17`` are explicit and accepted. Timestamps stay text
  (the typed field parses them, with their zone). ``yes``/``no``/``on``/``off`` stay booleans,
  which a number field refuses.

``problems(data)`` then checks any decoded document (also one built from the environment or
the seed's JSON): every number finite, no NUL character in any string or key, the depth bound.
Every problem is a ConfigError line ``where: message (got VALUE)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fleetscale.errors import ConfigError

MAX_BYTES = 32 << 20
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_NODES = 100_000

_AMBIGUOUS = "tag:fleetscale,2026:ambiguous-number"
_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|[-+]?0x[0-9a-fA-F]+|[-+]?0o[0-7]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_BOOL = re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _Refused(yaml.YAMLError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with limits, duplicate-key refusal and YAML 1.2 numbers."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(self.get_mark().line + 1,
                               f"more than {MAX_ALIASES} aliases (*name)")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.get_mark().line + 1,
                               f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise _Refused(_line(key_node), "a mapping key must be a plain value") from None
                if key in seen:
                    raise _Refused(_line(key_node), f"{key}: given twice in one mapping "
                                                    f"(first at line {seen[key]})")
                seen[key] = _line(key_node)
                if value_node.tag == _AMBIGUOUS:
                    raise _Refused(_line(value_node), _ambiguous(value_node.value, str(key)))
        return super().construct_mapping(node, deep=deep)


def _ambiguous(text: str, key: str | None = None) -> str:
    head = f"{key}: " if key else ""
    return (f"{head}a number with a leading zero is ambiguous (YAML 1.1 reads {text} as octal); "
            f"write it without the zero, or quote it if it is text (got {text})")


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    return int(str(loader.construct_scalar(node)), 0)


def _construct_ambiguous(loader: _Loader, node: yaml.ScalarNode) -> None:
    raise _Refused(_line(node), _ambiguous(str(node.value)))


_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("yYnNtTfFoO"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_AMBIGUOUS, _LEADING_ZERO, list("-+0"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor(_AMBIGUOUS, _construct_ambiguous)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document expands to (aliases counted at every use); refuses bombs (aliases
    adding more than ``MAX_NODES`` nodes to those written out) and cycles."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            # len(sizes): the distinct nodes counted so far, at least those under this node, so
            # the difference never exceeds what aliases add under it (exact at the root)
            if total - len(sizes) > MAX_NODES:
                raise _Refused(_line(node), f"expands to more than {MAX_NODES} values beyond "
                                            f"those written out (aliases repeat what they name)")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_:
            raise _Refused(_line(node), "an alias refers to a value that contains it")
        open_.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_:
                raise _Refused(_line(child), "an alias refers to a value that contains it")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


# --- files -------------------------------------------------------------------------


def _fail(p: Path, message: str) -> ConfigError:
    return ConfigError(f"(file): {message} (got {p})")


def _text(p: Path) -> str:
    try:
        if p.is_dir():
            raise _fail(p, "is a directory, not a configuration file")
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(p, f"cannot read {p}: {exc.strerror}") from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise _fail(p, f"cannot read {p}: {exc}") from None
    if len(raw) > MAX_BYTES:
        raise _fail(p, f"larger than {MAX_BYTES >> 20} MiB; not a configuration file")
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise _fail(p, f"binary data (a NUL byte at line {line}); expected YAML or JSON text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _fail(p, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line})") from None


def _json_depth(text: str) -> int:
    depth = deepest = 0
    for m in re.finditer(r'"(?:\\.|[^"\\])*"|[\[\]{}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"{key}: given twice in one object")
        out[key] = value
    return out


def _json(p: Path, text: str) -> Any:
    if _json_depth(text) > MAX_DEPTH:
        raise _fail(p, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise _fail(p, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise _fail(p, f"invalid JSON: {exc}") from None


def _yaml(p: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except _Refused as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise _fail(p, f"refused YAML{where}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise _fail(p, f"invalid YAML{where}: {problem}") from None
    except (ValueError, RecursionError) as exc:
        raise _fail(p, f"invalid YAML: {exc}") from None


def read(path: str | Path) -> Any:
    """The decoded document of a YAML or JSON file (``.json`` is JSON, anything else YAML)."""
    p = Path(path)
    text = _text(p)
    return _json(p, text) if p.suffix.lower() == ".json" else _yaml(p, text)


# --- values ------------------------------------------------------------------------


def problems(data: Any) -> list[str]:
    """Non-finite numbers, NUL characters and excessive depth anywhere in ``data``."""
    found: list[str] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack and len(found) < 50:
        path, value, depth = stack.pop()
        where = path or "(document)"
        if depth > MAX_DEPTH:
            found.append(f"{where}: nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            found.append(f"{where}: must be a finite number (got {value})")
        elif isinstance(value, str) and "\0" in value:
            found.append(f"{where}: contains a NUL character (got one at position {value.index(chr(0))})")
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                name = str(key)
                if "\0" in name:
                    found.append(f"{where}: a key contains a NUL character (got one at position "
                                 f"{name.index(chr(0))})")
                    continue
                stack.append((f"{path}.{name}" if path else name, item, depth + 1))
        elif isinstance(value, list | tuple):
            for i in reversed(range(len(value))):
                stack.append((f"{path}.{i}" if path else str(i), value[i], depth + 1))
    return sorted(found)

