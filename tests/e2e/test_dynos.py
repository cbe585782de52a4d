"""End to end: messages arrive in SQS (moto), the controller scales Heroku dynos (fake API),
simulated workers drain the queue at a rate proportional to the formation's quantity, the
dynos scale back down, and the SQL journal holds every cycle. Driven cycle by cycle with a
simulated clock; every loop is bounded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from fleetscale import config
from fleetscale.app import build_controller
from fleetscale.compat.dynoscaler_env import document_from_env
from fleetscale.journal import metrics
from fleetscale.journal.sql import SqlJournal
from fleetscale.sim.clock import SimClock
from tests.fixtures.elasticsearch import FakeElasticsearch
from tests.fixtures.heroku import FakeHeroku

INTERVAL = 60.0
PER_DYNO = 10  # messages one dyno finishes per interval


class World:
    """The queue, the formation and the workers, advanced one interval at a time."""

    def __init__(self, moto: str, heroku: FakeHeroku) -> None:
        self.sqs = boto3.session.Session().client(
            "sqs",
            endpoint_url=moto,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.url = self.sqs.create_queue(QueueName="jobs")["QueueUrl"]
        self.heroku = heroku

    def send(self, n: int) -> None:
        for start in range(0, n, 10):
            entries = [{"Id": str(i), "MessageBody": f"job {start + i}"} for i in range(min(10, n - start))]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)

    def depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def work(self) -> int:
        """Every dyno finishes PER_DYNO messages (received and deleted)."""
        budget = self.heroku.quantity("shop") * PER_DYNO
        done = 0
        for _ in range(budget // 10 + 2):  # bounded
            if done >= budget:
                break
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, budget - done))
            messages = got.get("Messages", [])
            if not messages:
                break
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            done += len(messages)
        return done


@pytest.fixture
def world(moto: str, heroku: FakeHeroku) -> World:
    return World(moto, heroku)


@pytest.fixture
def env(
    moto: str, heroku: FakeHeroku, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    values = {
        "MY_HEROKU_AUTH_DES": "e2e",
        "MY_HEROKU_AUTH_TOKEN": heroku.token,
        "MY_HEROKU_AS_APP": "shop",
        "MY_HEROKU_AS_PROCESS": "worker",
        "AWS_KEY": "testing",
        "AWS_SECRET": "testing",
        "AWS_SQS_NAME": "jobs",
        "AWS_SQS_REGION": "us-east-1",
        "DYNOSCALER_MAX_DYNOS": "5",
        "DYNOSCALER_MIN_DYNOS": "1",
        "DYNOSCALER_UP_CYCLES": "1",
        "DYNOSCALER_DOWN_CYCLES": "1",
        "DYNOSCALER_BACKLOG_THRESHOLD": "10",
        "FLEETSCALE_HEROKU_API_URL": heroku.url,
        "FLEETSCALE_SQS_ENDPOINT_URL": moto,
        "FLEETSCALE_JOURNAL_SQL": f"sqlite:///{tmp_path}/journal.db",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values


def test_dynoscaler_parity_from_env(
    world: World,
    heroku: FakeHeroku,
    env: dict[str, str],
    elasticsearch_fake: FakeElasticsearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FLEETSCALE_POLICY=cycles: one dyno per step, up under load, down to min when drained,
    each decision the one the seed's counters give; Elasticsearch, down for the first cycles,
    catches up."""
    monkeypatch.setenv("FLEETSCALE_POLICY", "cycles")
    monkeypatch.setenv("ELK_ELASTIC_URL", elasticsearch_fake.url)
    monkeypatch.setenv("ELK_INDEX_AS", "dynoscaler")
    loaded = config.parse(document_from_env(dict(os.environ)))
    heroku.apps["shop"]["worker"].quantity = 1
    clock = SimClock()
    controller = build_controller(loaded, clock, log=False)
    world.send(120)
    quantities, cycles = [], 0
    elasticsearch_fake.stop()
    try:
        for step in range(40):  # bounded
            if step == 3:
                elasticsearch_fake.start()
            controller.cycle()
            cycles += 1
            world.work()
            quantities.append(heroku.quantity("shop"))
            clock.advance(INTERVAL)
            if world.depth() == 0 and quantities[-1] == 1 and max(quantities) > 1:
                break
    finally:
        controller.close()

    assert max(quantities) >= 3, quantities
    assert quantities[-1] == 1 and world.depth() == 0, quantities
    steps = [
        b["quantity"] - a["quantity"]
        for a, b in zip([{"quantity": 1}, *heroku.patches()], heroku.patches(), strict=False)
    ]
    assert steps and all(abs(s) == 1 for s in steps), heroku.patches()  # DynoScaler moves one at a time
    journal = SqlJournal(env["FLEETSCALE_JOURNAL_SQL"])
    records = journal.cycles("shop-worker", last=1000)
    journal.close()
    assert len(records) == cycles
    assert all(r["decision"] is not None and not r["errors"] for r in records)
    assert "per instance" in records[1]["decision"]["reason"]
    assert elasticsearch_fake.count("dynoscaler") == cycles  # the ELK_* sink caught up on every cycle
    assert [r["decision"]["desired"] for r in records] == seed_decisions(records, threshold=10, up=1, down=1)


def seed_decisions(records: list[dict[str, Any]], threshold: float, up: int, down: int) -> list[int]:
    """The seed DynoScaler's counters replayed on the recorded readings (pool min 1, max 5)."""
    up_cnt = down_cnt = 0
    out = []
    for r in records:
        messages = next(o["value"] for o in r["observations"] if o["metric"] == "backlog")
        dynos = r["decision"]["current"]
        desired = dynos
        if messages / dynos >= threshold:
            if up_cnt >= up:
                desired, up_cnt, down_cnt = dynos + 1, 0, 0
            else:
                up_cnt, down_cnt = up_cnt + 1, max(0, down_cnt - 1)
        elif down_cnt >= down:
            desired, up_cnt, down_cnt = dynos - 1, 0, 0
        else:
            down_cnt, up_cnt = down_cnt + 1, max(0, up_cnt - 1)
        out.append(min(5, max(1, desired)))
    return out


def test_latency_objective_scales_from_zero_and_back(
    world: World, heroku: FakeHeroku, moto: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """min 0: no dynos while idle, dynos for a burst sized by the measured rate, zero again after."""
    monkeypatch.setenv("HEROKU_API_KEY", heroku.token)
    url = f"sqlite:///{tmp_path}/journal.db"
    loaded = config.parse(
        {
            "pools": [
                {
                    "name": "shop-worker",
                    "interval": INTERVAL,
                    "min": 0,
                    "max": 6,
                    "policies": [{"kind": "backlog", "latency": 180, "initial_processing_time": 60}],
                    "governor": {"down": {"stabilisation": 120}},
                    "sources": [
                        {"kind": "sqs", "queues": ["jobs"], "endpoint_url": moto, "region": "us-east-1"}
                    ],
                    "provider": {"kind": "heroku", "app": "shop", "api_url": heroku.url},
                }
            ],
            "journal": {"sql": url},
        }
    )
    clock = SimClock()
    sink = metrics.serve(0, "127.0.0.1")
    controller = build_controller(loaded, clock, log=False, extra_sinks=(sink,))
    quantities: list[int] = []
    try:
        for step in range(60):  # bounded
            if step == 3:
                world.send(150)
            controller.cycle()
            world.work()
            quantities.append(heroku.quantity("shop"))
            clock.advance(INTERVAL)
            if step > 3 and world.depth() == 0 and quantities[-1] == 0:
                break
        scraped = httpx.get(f"http://127.0.0.1:{sink.port}/metrics", timeout=5).text
    finally:
        controller.close()
        sink.close()

    assert quantities[:3] == [0, 0, 0]  # idle: nothing running
    assert quantities[3] > 0  # the first messages start dynos at once
    assert quantities[-1] == 0 and world.depth() == 0, quantities
    journal = SqlJournal(url)
    records = journal.cycles("shop-worker", last=1000)
    journal.close()
    assert len(records) == len(quantities)
    reasons = " | ".join(r["decision"]["reason"] for r in records)
    # the workers' real rate (10 messages per 60 s per dyno) was learnt from the queue
    assert "6 s per message (measured" in reasons
    assert 'fleetscale_decisions_total{direction="up",pool="shop-worker"}' in scraped
    assert 'fleetscale_decisions_total{direction="down",pool="shop-worker"}' in scraped
