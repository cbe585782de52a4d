"""Libcloud's EC2 driver against moto, with the two workarounds from components.md §5.

1. ``signature_version="4"`` (a normal driver argument, passed through ``driver_args``):
   with v2 query signing moto cannot tell the service and answers as S3.
2. The XML namespace patch: moto's EC2 responses use ``xmlns=".../doc/2016-11-15"`` without the
   trailing slash libcloud expects; without it ``list_nodes()`` is always empty. This mutates
   a libcloud module global, so it lives here, in the tests, never in ``src/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import libcloud.compute.drivers.ec2 as lc_ec2

from fleetscale.model import InstanceType
from fleetscale.providers import libcloud as lc
from tests.contract import aws


def patch_namespace() -> None:
    lc_ec2.NAMESPACE = lc_ec2.NAMESPACE.rstrip("/")


def settings(endpoint: str, **extra: Any) -> lc.Settings:
    patch_namespace()
    url = urlsplit(endpoint)
    return lc.Settings(driver="ec2", key="testing", secret="testing", image_id=aws.ami(endpoint),
                       driver_args={"region": "us-east-1", "host": url.hostname, "port": url.port,
                                    "secure": False, "signature_version": "4"},
                       backoff_base=0.5, **extra)


def provider(endpoint: str, pool: str = "web", sleeps: list[float] | None = None,
             types: tuple[InstanceType, ...] = aws.TYPES, driver: Any = None,
             **extra: Any) -> lc.LibcloudProvider:
    s = settings(endpoint, **extra)
    record = sleeps if sleeps is not None else []
    return lc.LibcloudProvider(s, pool, types, driver or lc.make_driver(s), record.append)


class FaultyDriver:
    """Wraps a real driver; ``create_node``/``list_nodes`` raise the way libcloud's EC2 driver
    reports an AWS error (``Exception("Code: message")``) while ``when`` says so."""

    def __init__(self, real: Any, code: str, op: str = "create_node", times: int | None = None,
                 when: Any = None) -> None:
        self.real, self.code, self.op, self.times = real, code, op, times
        self.when = when or (lambda kwargs: True)
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.real, name)
        if name != self.op:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.when(kwargs) and (self.times is None or self.count < self.times):
                self.count += 1
                raise Exception(f"{self.code}: injected {self.code}")
            return target(*args, **kwargs)

        return call
