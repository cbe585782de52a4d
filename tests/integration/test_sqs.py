"""The SQS source against moto's server mode, with real boto3 calls over HTTP."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import boto3
import pytest

from fleetscale.ports import Closeable
from fleetscale.sources import sqs
from tests.fixtures.services import free_port

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _source(endpoint: str, **options: object) -> sqs.SqsSource:
    settings = sqs.Settings.model_validate({"endpoint_url": endpoint, "region": "us-east-1", **options})
    return sqs.build(settings, None)


def _values(observations: list) -> dict[str, float | None]:  # type: ignore[type-arg]
    return {o.metric: o.value for o in observations}


class TestCounts:
    """The total counts visible messages, plus in-flight by default, plus delayed on request."""

    def test_visible_and_in_flight(self, moto: str) -> None:
        client = _client(moto)
        url = client.create_queue(QueueName="jobs")["QueueUrl"]
        for i in range(30):
            client.send_message(QueueUrl=url, MessageBody=f"job {i}")
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        assert len(got["Messages"]) == 10

        both = _source(moto, queues=["jobs"]).read("dynos", NOW)
        visible_only = _source(moto, queues=["jobs"], in_flight=False).read("dynos", NOW)

        assert _values(both) == {"backlog": 30.0, "load": 30.0}
        assert _values(visible_only) == {"backlog": 20.0, "load": 20.0}
        assert all(o.ok and o.at == NOW and o.instance_id is None for o in both)

    def test_closed_by_the_wiring(self, moto: str) -> None:
        """The source is Closeable, so ``app.build_controller`` closes its client at shutdown."""
        _client(moto).create_queue(QueueName="jobs")
        source = _source(moto, queues=["jobs"])
        assert source.read("dynos", NOW)[0].ok
        assert isinstance(source, Closeable)
        source.close()
        assert not source.client._endpoint.http_session._manager.pools, "connections released"

    def test_deleted_messages_leave_the_backlog(self, moto: str) -> None:
        client = _client(moto)
        url = client.create_queue(QueueName="jobs")["QueueUrl"]
        for i in range(5):
            client.send_message(QueueUrl=url, MessageBody=f"job {i}")
        for msg in client.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]:
            client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        assert _values(_source(moto, queues=["jobs"]).read("p", NOW))["backlog"] == 2.0

    def test_delayed_counted_only_when_asked(self, moto: str) -> None:
        client = _client(moto)
        url = client.create_queue(QueueName="later")["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="now")
        client.send_message(QueueUrl=url, MessageBody="soon", DelaySeconds=600)
        assert _values(_source(moto, queues=["later"]).read("p", NOW))["backlog"] == 1.0
        assert _values(_source(moto, queues=["later"], delayed=True).read("p", NOW))["backlog"] == 2.0

    def test_several_queues_and_urls_add_up(self, moto: str) -> None:
        client = _client(moto)
        a = client.create_queue(QueueName="a")["QueueUrl"]
        b = client.create_queue(QueueName="b")["QueueUrl"]
        for _ in range(3):
            client.send_message(QueueUrl=a, MessageBody="x")
        for _ in range(4):
            client.send_message(QueueUrl=b, MessageBody="y")
        assert _values(_source(moto, queues=["a", b]).read("p", NOW))["backlog"] == 7.0

    def test_credentials_from_named_environment_variables(self, moto: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        monkeypatch.setenv("AWS_KEY", "AKIDSEED")
        monkeypatch.setenv("AWS_SECRET", "seed-secret")
        _client(moto).create_queue(QueueName="jobs")
        source = _source(moto, queues=["jobs"], access_key_env="AWS_KEY", secret_key_env="AWS_SECRET")
        assert source.client._request_signer._credentials.access_key == "AKIDSEED"
        assert _values(source.read("p", NOW))["backlog"] == 0.0


class TestFailures:
    """A failed read is an error observation naming the queue; read() never raises."""

    def test_missing_queue(self, moto: str) -> None:
        _client(moto).create_queue(QueueName="real")
        out = _source(moto, queues=["real", "nope"]).read("p", NOW)
        assert {o.metric for o in out} == {"backlog", "load"}
        assert all(not o.ok and o.value is None for o in out)
        assert "sqs queue nope" in (out[0].error or "")
        assert "NonExistentQueue" in (out[0].error or "") or "QueueDoesNotExist" in (out[0].error or "")

    def test_queue_deleted_after_first_read(self, moto: str) -> None:
        client = _client(moto)
        url = client.create_queue(QueueName="gone")["QueueUrl"]
        source = _source(moto, queues=["gone"])
        assert source.read("p", NOW)[0].ok
        client.delete_queue(QueueUrl=url)
        out = source.read("p", NOW)
        assert not out[0].ok and "sqs queue gone" in (out[0].error or "")

    def test_endpoint_down(self) -> None:
        dead = f"http://127.0.0.1:{free_port()}"
        source = _source(dead, queues=["jobs"], timeout=1, access_key_id="k", secret_access_key="s")
        out = source.read("p", NOW)
        assert all(not o.ok for o in out)
        assert "sqs queue jobs" in (out[0].error or "") and "EndpointConnectionError" in (out[0].error or "")

    def test_read_timeout(self) -> None:
        with socket.socket() as silent:  # accepts connections, never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
            source = _source(endpoint, queues=["jobs"], timeout=0.5, access_key_id="k", secret_access_key="s")
            started = time.monotonic()
            out = source.read("p", NOW)
        assert time.monotonic() - started < 10
        assert all(not o.ok for o in out)
        assert "sqs queue jobs" in (out[0].error or "") and "ReadTimeoutError" in (out[0].error or "")

    def test_no_credentials(self, moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(var)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        out = _source(moto, queues=["jobs"]).read("p", NOW)
        assert "sqs queue jobs" in (out[0].error or "") and "NoCredentialsError" in (out[0].error or "")


def test_settings_refuse_unknown_options_and_empty_queues() -> None:
    with pytest.raises(ValueError):
        sqs.Settings.model_validate({"queues": []})
    with pytest.raises(ValueError):
        sqs.Settings.model_validate({"queues": ["a"], "queue_name": "a"})


class TestShortIntervalCost:
    """SQS has no push: the pool polls. A read costs one GetQueueAttributes per queue on one
    reused client (GetQueueUrl once per queue name), so a short interval stays cheap."""

    def test_one_call_per_queue_per_read(self, moto: str) -> None:
        client = _client(moto)
        client.create_queue(QueueName="jobs")
        client.create_queue(QueueName="more")
        source = _source(moto, queues=["jobs", "more"])
        calls: list[str] = []
        source.client.meta.events.register(
            "before-call.sqs.*", lambda model, **_: calls.append(model.name))  # type: ignore[no-untyped-def]
        for _ in range(5):
            assert source.read("dynos", NOW)[0].ok
        assert calls.count("GetQueueUrl") == 2
        assert calls.count("GetQueueAttributes") == 10
        assert len(calls) == 12
        source.close()
