"""A real PoolRunner's extra cycle: marked in its record, acts on hysteresis 1, and neither
counts nor acts where hysteresis asks for scheduled cycles."""

from __future__ import annotations

from pathlib import Path

from tests.unit.controller_kit import kit, pool_config


def test_an_extra_cycle_says_why_and_acts_at_once_with_hysteresis_one(tmp_path: Path) -> None:
    k = kit(tmp_path, load=0)
    k.step()
    k.source.value = 3.0
    record = k.runner.cycle(extra="kamailio: call-start 127.0.0.1:5071")
    assert record.outcome[0] == "extra cycle: kamailio: call-start 127.0.0.1:5071"
    assert record.decision is not None and record.decision.desired == 3
    assert any(line.startswith("launched 3 x default") for line in record.outcome)


def test_extra_cycles_do_not_count_for_hysteresis(tmp_path: Path) -> None:
    governor = {"up": {"hysteresis": 2}, "down": {"stabilisation": 0}}
    k = kit(tmp_path, load=0, pool=pool_config(governor=governor))
    k.step()
    k.source.value = 3.0
    for _ in range(3):  # however many extra cycles: held, nothing counted
        record = k.runner.cycle(extra="x")
        assert record.decision is not None and record.decision.desired == record.decision.current
        assert "extra cycle; 0 of 2 consecutive scheduled cycles want up" in record.decision.reason
    first, second = k.step(2)  # the scheduled cycles count: the second acts
    assert first.decision is not None and first.decision.desired == first.decision.current
    assert second.decision is not None and second.decision.desired == 3
