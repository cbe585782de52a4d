"""``fleetscale run --from-env`` as a process: DynoScaler's variables, moto SQS, the fake Heroku
API; one cycle scales the formation, the journal records it, and no secret reaches the output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from fleetscale.journal.sql import SqlJournal
from tests.fixtures.heroku import FakeHeroku

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
AWS_SECRET = "aws-secret-never-printed"


def _env(moto: str, heroku: FakeHeroku, journal: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "src"),
        "MY_HEROKU_AUTH_DES": "e2e",
        "MY_HEROKU_AUTH_TOKEN": heroku.token,
        "MY_HEROKU_AS_APP": "shop",
        "MY_HEROKU_AS_PROCESS": "worker",
        "AWS_KEY": "AKIDTESTING",
        "AWS_SECRET": AWS_SECRET,
        "AWS_SQS_NAME": "jobs",
        "AWS_SQS_REGION": "us-east-1",
        "DYNOSCALER_MAX_DYNOS": "4",
        "DYNOSCALER_MIN_DYNOS": "1",
        "DYNOSCALER_UP_CYCLES": "0",
        "DYNOSCALER_DOWN_CYCLES": "0",
        "DYNOSCALER_BACKLOG_THRESHOLD": "10",
        "FLEETSCALE_POLICY": "cycles",
        "FLEETSCALE_HEROKU_API_URL": heroku.url,
        "FLEETSCALE_SQS_ENDPOINT_URL": moto,
        "FLEETSCALE_JOURNAL_SQL": journal,
    }


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fleetscale", "run", "--from-env", "--once", "--log-level", "debug"]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=90)


def test_one_cycle_scales_the_formation(moto: str, heroku: FakeHeroku, tmp_path: Path) -> None:
    sqs = boto3.session.Session().client(
        "sqs",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="AKIDTESTING",
        aws_secret_access_key=AWS_SECRET,
    )
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"job {i}")
    heroku.apps["shop"]["worker"].quantity = 1
    journal = f"sqlite:///{tmp_path}/journal.db"

    done = _run(_env(moto, heroku, journal), tmp_path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert heroku.quantity("shop") == 2  # 25 per dyno >= 10: DynoScaler adds one dyno
    output = done.stdout + done.stderr
    assert heroku.token not in output and AWS_SECRET not in output
    store = SqlJournal(journal)
    records = store.cycles("shop-worker")
    store.close()
    assert len(records) == 1 and records[0]["decision"]["desired"] == 2


def test_missing_variables_are_named(moto: str, heroku: FakeHeroku, tmp_path: Path) -> None:
    env = _env(moto, heroku, f"sqlite:///{tmp_path}/journal.db")
    del env["MY_HEROKU_AS_APP"]
    env["DYNOSCALER_MAX_DYNOS"] = "many"

    done = _run(env, tmp_path)

    assert done.returncode != 0
    assert "MY_HEROKU_AS_APP: missing (got nothing)" in done.stderr
    assert "DYNOSCALER_MAX_DYNOS: not a whole number (got many)" in done.stderr
    assert heroku.token not in done.stderr and AWS_SECRET not in done.stderr
    assert heroku.requests == []
