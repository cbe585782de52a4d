"""boto3 clients against moto, and fault injection for what moto cannot produce.

``inject(client, op, code, when)`` registers a botocore ``before-call`` hook that answers the
call with an AWS error (``InsufficientInstanceCapacity``, ``RequestLimitExceeded``) instead of
sending it, while ``when(body)`` says so (``body`` is the serialised query, e.g.
``body["InstanceType"]``). Everything else reaches moto over HTTP.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from fleetscale.model import InstanceType
from fleetscale.providers import ec2

TYPES = (InstanceType("t3.small", 1, 0.02), InstanceType("t3.large", 4, 0.07),
         InstanceType("m5.large", 2, 0.096))


@functools.cache
def _botocore() -> Any:
    """One botocore session per test process: loading EC2's service model takes ~0.4 s."""
    return botocore.session.get_session()


def client(endpoint: str) -> Any:
    session = boto3.session.Session(botocore_session=_botocore())
    return session.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"mode": "standard", "max_attempts": 1}))


def ami(endpoint: str) -> str:
    """An image to launch from: the first one moto has, else one registered now."""
    c = client(endpoint)
    images = c.describe_images(Owners=["self", "amazon"])["Images"]
    if images:
        return str(sorted(i["ImageId"] for i in images)[0])
    return str(c.register_image(Name="fleetscale-test", RootDeviceName="/dev/sda1")["ImageId"])


def settings(endpoint: str, **extra: Any) -> ec2.Settings:
    return ec2.Settings(image_id=ami(endpoint), endpoint_url=endpoint, access_key_id="testing",
                        secret_access_key="testing", max_attempts=1, backoff_base=0.5, **extra)


def provider(endpoint: str, pool: str = "web", sleeps: list[float] | None = None,
             types: tuple[InstanceType, ...] = TYPES, **extra: Any) -> ec2.EC2Provider:
    s = settings(endpoint, **extra)
    record = sleeps if sleeps is not None else []
    return ec2.EC2Provider(s, pool, types, ec2.make_client(s, _botocore()), record.append)


class Injected:
    """Counts the calls a hook answered with an error."""

    def __init__(self) -> None:
        self.count = 0


def inject(client_: Any, op: str, code: str, when: Callable[[dict[str, Any]], bool],
           times: int | None = None) -> Injected:
    hits = Injected()

    def hook(params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body") or {}
        if not isinstance(body, dict) or not when(body):
            return None
        if times is not None and hits.count >= times:
            return None
        hits.count += 1
        status = 503 if code in ec2.THROTTLING else 500
        return (AWSResponse("http://injected", status, {}, None),
                {"Error": {"Code": code, "Message": f"injected {code}"},
                 "ResponseMetadata": {"HTTPStatusCode": status}})

    client_.meta.events.register(f"before-call.ec2.{op}", hook)
    return hits
