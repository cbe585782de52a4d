"""config.py: every problem is one line ``path: message (got VALUE)``; valid files load."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetscale import config
from fleetscale.errors import ConfigError

BASE = {"name": "web", "max": 10, "provider": {"kind": "simulated"}}


def problems(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.parse(doc)
    return err.value.problems


class TestValid:
    """A minimal document loads with defaults and validated adapter settings."""

    def test_minimal(self) -> None:
        loaded = config.parse({"pools": [BASE]})
        pool = loaded.config.pool("web")
        assert pool.interval == 60 and pool.min == 0 and pool.drain.on_deadline == "wait"
        assert loaded.provider_settings("web").boot_delay == 120
        assert loaded.config.journal.sql == "sqlite:///fleetscale.db"
        assert pool.decision_spec().policies  # the recommended policy when none is named

    def test_yaml_file(self, tmp_path: Path) -> None:
        p = tmp_path / "c.yaml"
        p.write_text("pools:\n  - name: web\n    max: 3\n    provider: {kind: simulated}\n"
                     "    sources: [{kind: fixed, value: 2}]\n")
        assert config.load(p).source_settings("web", 0).value == 2


class TestErrors:
    """Errors name the field path and the bad value."""

    @pytest.mark.parametrize(
        ("doc", "line"),
        [
            ({"pools": [{**BASE, "max": 0}]}, "pools.0.max: Input should be greater than 0 (got 0)"),
            ({"pools": [{**BASE, "min": 5, "max": 2}]}, "pools.0: min (5) is above max (2)"),
            ({"pools": [{**BASE, "bogus": 1}]}, "pools.0.bogus: Extra inputs are not permitted (got 1)"),
            ({"pools": [{"name": "web", "max": 1}]}, "pools.0.provider: Field required (got nothing)"),
            ({"pools": [BASE, BASE]}, "(document): pool names must be unique, ['web'] repeat"),
            ({"pools": []}, "pools: Tuple should have at least 1 item after validation, not 0 (got [])"),
            ({"pools": [{**BASE, "provider": {"kind": "nope"}}]},
             "pools.0.provider.kind: unknown provider kind"),
            ({"pools": [{**BASE, "sources": [{"kind": "fixed", "valu": 3}]}]},
             "pools.0.sources.0.valu: Extra inputs are not permitted (got 3)"),
            ({"pools": [{**BASE, "provider": {"kind": "simulated", "boot_delay": -1}}]},
             "pools.0.provider.boot_delay: Input should be greater than or equal to 0 (got -1)"),
            ({"pools": [{**BASE, "drain": {"on_deadline": "cut"}}]},
             "pools.0.drain.on_deadline: Input should be 'wait' or 'terminate' (got cut)"),
            ([1, 2], "(document): expected a mapping with 'pools' (got list)"),
            ({"pools": [{**BASE, "provider": {"kind": "heroku", "app": "shop"},
                         "unknown_instances": "terminate"}]},
             "pools.0: unknown_instances: terminate cannot be used with provider heroku"),
        ],
        ids=["max", "min-max", "extra", "missing", "dupes", "empty", "kind", "adapter-extra",
             "adapter-value", "literal", "not-mapping", "heroku-renumbers-dynos"],
    )
    def test_one_line_per_problem(self, doc: object, line: str) -> None:
        got = problems(doc)
        assert any(g.startswith(line) for g in got), got
        assert all("\n" not in g for g in got)

    def test_secrets_hidden(self) -> None:
        doc = {"pools": [{**BASE, "provider": {"kind": "simulated", "password": "hunter2"}}]}
        got = problems(doc)
        assert any(g.startswith("pools.0.provider.password:") for g in got)
        assert not any("hunter2" in g for g in got)

    @pytest.mark.parametrize(
        "source",
        [
            {"kind": "kamailio", "db": {"password": "hunter2"}, "rpc_url": None},
            {"kind": "kamailio", "db": "mysql://kamailio:hunter2@127.0.0.1/kamailio"},
        ],
        ids=["nested-in-a-rejected-mapping", "url-given-as-a-string"],
    )
    def test_secrets_inside_a_shown_value_are_hidden(self, source: dict[str, object]) -> None:
        got = problems({"pools": [{**BASE, "sources": [source]}]})
        assert got and not any("hunter2" in g for g in got), got

    def test_invalid_yaml_names_line(self, tmp_path: Path) -> None:
        p = tmp_path / "c.yaml"
        p.write_text("pools:\n  - name: [unclosed\n")
        (line,) = problems_from_file(p)
        assert line.startswith("(file): invalid YAML at line")

    def test_missing_file(self, tmp_path: Path) -> None:
        (line,) = problems_from_file(tmp_path / "none.yaml")
        assert "cannot read" in line


def problems_from_file(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.load(path)
    return err.value.problems


def test_all_problems_at_once() -> None:
    """Pool errors and adapter errors are reported together, so one ``check`` finds them all."""
    doc = {"pools": [{"name": "web", "max": -1, "sources": [{"kind": "fixed", "valu": 3}],
                      "provider": {"kind": "nope"}}]}
    got = problems(doc)
    assert got[0].startswith("pools.0.max:")
    assert any(g.startswith("pools.0.sources.0.valu:") for g in got)
    assert any(g.startswith("pools.0.provider.kind: unknown provider kind") for g in got)
