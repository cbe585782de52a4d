"""The ``api:`` section, and serving it: ``fleetscale run`` (beside the controller) and
``fleetscale serve`` (a read-only view) answer the same reads over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fleetscale import config
from fleetscale.api.server import RunApi, bind
from fleetscale.app import build_controller
from fleetscale.cli import main
from fleetscale.errors import ConfigError, FleetscaleError
from fleetscale.sim.clock import SimClock

ROOT = Path(__file__).resolve().parents[2]
BASE = {"name": "web", "max": 10, "provider": {"kind": "simulated", "boot_delay": 0},
        "sources": [{"kind": "fixed", "value": 3}]}


def problems(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config.parse(doc)
    return err.value.problems


class TestConfig:
    """``api:`` validates listen as host:port and needs a journal another engine can open."""

    def test_valid(self, tmp_path: Path) -> None:
        api = config.parse({"pools": [BASE], "api": {"listen": "[::1]:9000", "token_env": "T"}}).config.api
        assert api is not None and (api.host, api.port, api.token_env) == ("::1", 9000, "T")
        assert config.parse({"pools": [BASE]}).config.api is None

    @pytest.mark.parametrize("listen", ["8080", "localhost", ":8080", "host:99999", "host:http", "host:-1"])
    def test_bad_listen(self, listen: str) -> None:
        assert problems({"pools": [BASE], "api": {"listen": listen}}) == [
            f"api.listen: expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:8080 (got {listen})"]

    def test_unknown_key(self) -> None:
        assert problems({"pools": [BASE], "api": {"token": "abc"}}) == [
            "api.token: Extra inputs are not permitted (got ***)"]

    def test_in_memory_journal_refused(self) -> None:
        got = problems({"pools": [BASE], "journal": {"sql": "sqlite://"}, "api": {}})
        assert len(got) == 1 and got[0].startswith(
            "(document): api: needs a journal the API can open beside the controller (a file or a server), "
            "not one in memory: journal.sql is sqlite://")


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _post(url: str, body: object, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


class TestRunApi:
    """Beside the controller: bound before anything starts, ready after a cycle, same reads as serve."""

    def _loaded(self, tmp_path: Path, **api: object) -> config.Loaded:
        (tmp_path / "tok").write_text("tok-1\n")
        journal = {"sql": f"sqlite:///{tmp_path / 'j.db'}", "log": False}
        return config.parse({"pools": [BASE], "journal": journal,
                             "api": {"listen": "127.0.0.1:0", "token_file": str(tmp_path / "tok"), **api}})

    def test_serves_beside_the_controller(self, tmp_path: Path) -> None:
        loaded = self._loaded(tmp_path)
        api = RunApi.prepare(loaded)
        clock = SimClock()
        controller = build_controller(loaded, clock, extra_sinks=api.sinks)
        try:
            api.start()
            assert api.server is not None
            url = api.server.url
            status, body = _get(url + "/readyz")
            assert status == 503 and body["why"] == "the controller has not completed a cycle yet"
            controller.cycle()
            assert _get(url + "/readyz") == (200, {"ready": True, "journal": "ok", "cycles": 1, "why": None})
            status, pools = _get(url + "/api/pools")
            assert status == 200 and pools["pools"][0]["desired"] == 4
            assert _post(url + "/api/pools/web/pause", {"reason": "r"}, "tok-1")[0] == 200
        finally:
            api.close()
            controller.close()
        # the same journal through `fleetscale serve` (read-only): the same reads, writes refused
        port = _port()
        proc = subprocess.Popen([sys.executable, "-m", "fleetscale", "serve", "--journal",
                                 f"sqlite:///{tmp_path / 'j.db'}", "--listen", f"127.0.0.1:{port}"],
                                env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url)
            status, served = _get(url + "/api/pools")
            assert status == 200
            assert served["pools"][0] == {**pools["pools"][0], "paused": ["down", "up"]}
            status, body = _post(url + "/api/pools/web/resume", {}, "tok-1")
            assert status == 403 and "read-only" in body["error"]
        finally:
            proc.terminate()
            assert proc.wait(timeout=15) == 0

    def test_port_in_use_is_one_line_before_anything_starts(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            loaded = self._loaded(tmp_path, listen=f"127.0.0.1:{port}")
            with pytest.raises(FleetscaleError, match=rf"^api.listen: cannot listen on 127.0.0.1:{port}: "):
                RunApi.prepare(loaded)
            assert loaded.config.api is not None
            with pytest.raises(FleetscaleError):
                bind(loaded.config.api)

    def test_cli_run_once_with_api(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        cfg = tmp_path / "fleet.yaml"
        (tmp_path / "tok").write_text("tok\n")
        cfg.write_text(json.dumps({"pools": [BASE], "journal": {"sql": f"sqlite:///{tmp_path / 'j.db'}",
                                                                "log": False},
                                   "api": {"listen": "127.0.0.1:0", "token_file": str(tmp_path / "tok")}}))
        assert main(["run", "--once", str(cfg)]) == 0
        cfg.write_text(cfg.read_text().replace(str(tmp_path / "tok"), "/nonexistent/tok"))
        assert main(["run", "--once", str(cfg)]) == 2
        assert "api.token_file: cannot read it: No such file or directory (got /nonexistent/tok)" in \
            capsys.readouterr().err
        assert not (tmp_path / "nothing-ran").exists()

    def test_serve_bad_listen(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["serve", "--journal", "sqlite://", "--listen", "nowhere"]) == 2
        assert capsys.readouterr().err.strip() == (
            "--listen: expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:8080 (got nowhere)")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str) -> None:
    import time

    for _ in range(400):  # bounded: 20 s
        try:
            if _get(url + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{url} did not answer within 20 s")
