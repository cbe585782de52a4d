"""Replay of a real pool's journal: sipp gateways on the real Kamailio, a short scripted call
profile (about 40 s), the controller cycling on the wall clock with the SQL journal; replaying
the journal with the pool's recorded configuration reproduces every decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.sip.fidelity_run import SHORT, fidelity, record
from tests.fixtures.kamailio import Kamailio

pytestmark = pytest.mark.e2e


def test_replay_reproduces_a_real_pools_decisions(kamailio: Kamailio, tmp_path: Path) -> None:
    url = record(kamailio, tmp_path, SHORT, interval=2.0, tail=6.0)
    got = fidelity(url)
    assert got["cycles"] >= 15
    assert max(got["real_instances"]) >= 3  # the pool really scaled up with the calls
    assert got["decisions_reproduced"] == got["decisions_total"], got["first_differences"]
