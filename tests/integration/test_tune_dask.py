"""``fleetscale tune --scheduler``: the simulations run on a real Dask cluster (a
``LocalCluster`` with two worker processes) and give the very figures of a local run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dask import distributed

from fleetscale import cli
from tests.unit.test_tune import changes_late, write_trace


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_dask_runs_the_search_and_matches_a_local_run(scheduler: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "t.csv", changes_late(480))
    common = ["tune", "--trace", str(trace), "--capacity", "1", "--max", "40", "--slo", "tau_under=1",
              "--budget", "6", "--method", "random"]
    assert cli.main([*common, "--scheduler", scheduler, "--out", str(tmp_path / "d.yaml"),
                     "--report", str(tmp_path / "d.json")]) == 0, capsys.readouterr().err
    assert cli.main([*common, "--workers", "1", "--out", str(tmp_path / "l.yaml"),
                     "--report", str(tmp_path / "l.json")]) == 0
    dask_body = json.loads((tmp_path / "d.json").read_text())
    local_body = json.loads((tmp_path / "l.json").read_text())
    assert dask_body["tried"] == local_body["tried"] and len(dask_body["tried"]) == 6
    assert (tmp_path / "d.yaml").read_text() == (tmp_path / "l.yaml").read_text()
    assert cli.main(["check", str(tmp_path / "d.yaml")]) == 0


def test_unreachable_scheduler_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "t.csv", changes_late(120))
    code = cli.main(["tune", "--trace", str(trace), "--slo", "tau_under=1", "--budget", "2",
                     "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o.yaml")])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "Traceback" not in err
