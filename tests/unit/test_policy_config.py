"""The policy and governor dataclasses ARE the configuration format: what an operator writes
in YAML validates into them, and mistakes name the field and the value."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from fleetscale.config import PoolConfig
from fleetscale.governor.settings import DirectionRules
from fleetscale.policy.cycles import CyclesPolicy
from fleetscale.policy.schedule import SchedulePolicy, Threshold, Window
from fleetscale.policy.step import Step, StepPolicy
from fleetscale.policy.target import TargetPolicy

DOC = """
name: sip-gw
min: 2
max: 40
unit_capacity: 50
provider: {kind: local}
policies:
  - kind: schedule
    timezone: Europe/Paris
    metric: calls
    auto_scale_threshold:
      "00:00:00": {unlockedMin: 2, loadMax: 0.7}
      "08:00:00": {unlockedMin: 10, loadMax: 0.75}
    windows:
      - {start: "09:00", end: "18:00", days: [mon, tue, wed, thu, fri], min: 12}
  - {kind: target, metric: calls, utilisation: 0.8, tolerance: 0.1}
  - kind: step
    compare: utilisation
    steps:
      - {above: 0.9, add_percent: 50}
      - {below: 0.3, remove: 1}
  - {kind: cycles, metric: backlog, threshold: 10, up_cycles: 3, down_cycles: 5}
  - {kind: fixed, units: 3}
governor:
  up: {max_step_count: 4, max_step_percent: 100, step_period: 15}
  down: {stabilisation: 300, cooldown: 120, hysteresis: 2}
  stale_after: 180
"""


def pool(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(DOC)
    data.update(changes)
    return data


class TestFormat:
    """The documented example loads into the typed values."""

    def test_example(self) -> None:
        spec = PoolConfig.model_validate(pool()).decision_spec()
        schedule, target, step, cycles, fixed = spec.policies
        assert isinstance(schedule, SchedulePolicy)
        assert schedule.auto_scale_threshold["08:00:00"] == Threshold(unlockedMin=10, loadMax=0.75)
        assert schedule.windows == (
            Window(start="09:00", end="18:00", days=("mon", "tue", "wed", "thu", "fri"), min=12),
        )
        assert target == TargetPolicy(metric="calls", utilisation=0.8, tolerance=0.1)
        assert step == StepPolicy(
            compare="utilisation", steps=(Step(above=0.9, add_percent=50), Step(below=0.3, remove=1))
        )
        assert cycles == CyclesPolicy(metric="backlog", threshold=10, up_cycles=3, down_cycles=5)
        assert fixed.units == 3  # type: ignore[union-attr]
        assert spec.governor.down == DirectionRules(stabilisation=300, cooldown=120, hysteresis=2)
        assert spec.governor.stale_after == 180


class TestMistakes:
    """Unknown keys and bad values are refused, naming where."""

    @pytest.mark.parametrize(
        ("policy", "where", "message"),
        [
            ({"kind": "target", "target": 3, "utilisation": 0.5}, ("policies", 0), "not both"),
            ({"kind": "target", "utilisaton": 0.5}, ("policies", 0, "target", "utilisaton"), "Unexpected"),
            (
                {"kind": "schedule", "timezone": "Mars/Olympus", "windows": [{"start": "08:00"}]},
                ("policies", 0),
                "IANA",
            ),
            (
                {"kind": "schedule", "auto_scale_threshold": {"08:00": {"unlockedMin": 1, "loadmax": 2}}},
                ("policies", 0, "schedule", "auto_scale_threshold", "08:00", "loadmax"),
                "Unexpected",
            ),
            ({"kind": "step", "steps": [{"above": 1}]}, ("policies", 0, "step", "steps", 0), "exactly one"),
            ({"kind": "cycles", "up_cycle": 3}, ("policies", 0, "cycles", "up_cycle"), "Unexpected"),
            ({"kind": "predictve"}, ("policies", 0), "tag"),
        ],
        ids=["two-targets", "typo", "timezone", "seed-key-typo", "step-size", "cycles-typo", "unknown-kind"],
    )
    def test_refused(self, policy: dict[str, Any], where: tuple[Any, ...], message: str) -> None:
        with pytest.raises(ValidationError) as info:
            PoolConfig.model_validate(pool(policies=[policy]))
        errors = info.value.errors()
        assert any(tuple(e["loc"][: len(where)]) == where and message in e["msg"] for e in errors), errors

    @pytest.mark.parametrize(
        ("governor", "message"),
        [
            ({"down": {"hysteresis": 0}}, "hysteresis must be >= 1"),
            ({"up": {"cooldown": -1}}, "cooldown must be >= 0"),
            ({"up": {"step_period": 0}}, "step_period must be > 0"),
            ({"stale_after": 0}, "stale_after must be > 0"),
            ({"down": {"stabilization": 300}}, "Unexpected"),
        ],
        ids=["hysteresis", "cooldown", "step-period", "stale-after", "american-spelling"],
    )
    def test_governor(self, governor: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            PoolConfig.model_validate(pool(governor=governor))


def test_the_documented_example_is_valid() -> None:
    """docs/decisions.md's configuration example validates as written."""
    from pathlib import Path

    from fleetscale.config import Config

    text = (Path(__file__).resolve().parents[2] / "docs" / "decisions.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = Config.model_validate(yaml.safe_load(block))
    spec = config.pools[0].decision_spec()
    assert [p.kind for p in spec.policies] == ["schedule", "target"]
    assert spec.override is not None and spec.override.hold == 12
