"""moto as a separate process (``moto_server -H 127.0.0.1 -p PORT``) for the cloud tests.

Two reasons not to use the shared in-process fixture: the crash tests SIGKILL a controller, and
moto must survive it in a process of its own; and this server runs with
``MOTO_EC2_LOAD_DEFAULT_AMIS=false``, so a reset is cheap (moto otherwise reloads thousands of
default AMIs, about 2 s, on the first EC2 call after every reset). Tests register their own
image (``aws.ami``).

Registered in ``tests/conftest.py``; tests ask for ``ec2_url`` (a clean server's URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import free_port, state_dir, stop, wait_until


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/moto-api/data.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def moto_process() -> Iterator[str]:
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    log = (state_dir("moto") / "moto.log").open("wb")
    proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), 20, "moto_server")
        yield url
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def ec2_url(moto_process: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean private moto (state wiped) and dummy credentials in the environment."""
    httpx.post(f"{moto_process}/moto-api/reset", timeout=10).raise_for_status()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    yield moto_process
