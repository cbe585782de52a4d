"""The Heroku provider against a local fake of the Platform API's formation endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from fleetscale.errors import ConfigError, ProviderError
from fleetscale.model import InstanceState
from fleetscale.providers import heroku
from tests.fixtures.heroku import ACCEPT, FakeHeroku
from tests.fixtures.services import free_port


def _provider(fake: FakeHeroku, sleeps: list[float] | None = None, token: str | None = None,
              **options: Any) -> heroku.HerokuProvider:
    settings = heroku.Settings.model_validate({"app": "shop", "api_url": fake.url, **options})
    record = sleeps if sleeps is not None else []
    api = heroku.HerokuApi(settings, SecretStr(token or fake.token), sleep=record.append)
    return heroku.HerokuProvider(settings, api)


class TestFakeFollowsTheApi:
    """The fake itself answers as the documented API does (so the provider tests mean something)."""

    def test_accept_header_and_token_required(self, heroku: FakeHeroku) -> None:
        url = f"{heroku.url}/apps/shop/formation"
        plain = httpx.get(url, headers={"Authorization": f"Bearer {heroku.token}"})
        assert plain.status_code == 406 and plain.json()["id"] == "not_acceptable"
        anon = httpx.get(f"{heroku.url}/apps/shop/formation", headers={"Accept": ACCEPT})
        assert anon.status_code == 401 and anon.json()["id"] == "unauthorized"
        ok = httpx.get(f"{heroku.url}/apps/shop/formation",
                       headers={"Accept": ACCEPT, "Authorization": f"Bearer {heroku.token}"})
        assert ok.status_code == 200 and ok.json()[0]["type"] == "worker"
        assert ok.headers["RateLimit-Remaining"] == "4499"


class TestScaling:
    """Dynos are instances {app}.{type}.{n}; launch/terminate PATCH the formation's quantity."""

    def test_list_launch_terminate(self, heroku: FakeHeroku) -> None:
        heroku.apps["shop"]["worker"].quantity = 2
        provider = _provider(heroku)
        listed = provider.list()
        assert [i.id for i in listed] == ["shop.worker.1", "shop.worker.2"]
        assert {i.type for i in listed} == {"standard-1X"}
        assert {i.state for i in listed} == {InstanceState.READY}

        launched = provider.launch("default", 3, "r1")
        assert [i.id for i in launched] == ["shop.worker.3", "shop.worker.4", "shop.worker.5"]
        assert all(i.state is InstanceState.PENDING for i in launched)
        assert heroku.quantity("shop") == 5

        provider.terminate(["shop.worker.5", "shop.worker.2"], "r2")
        assert heroku.quantity("shop") == 3
        assert heroku.patches() == [{"quantity": 5}, {"quantity": 3}]

    def test_retried_requests_are_idempotent(self, heroku: FakeHeroku) -> None:
        provider = _provider(heroku)
        provider.launch("default", 2, "up-1")
        provider.launch("default", 2, "up-1")
        assert heroku.quantity("shop") == 2
        provider.terminate(["shop.worker.2"], "down-1")
        provider.terminate(["shop.worker.2"], "down-1")
        assert heroku.quantity("shop") == 1
        assert heroku.patches() == [{"quantity": 2}, {"quantity": 1}]

    def test_terminating_dynos_already_gone_changes_nothing(self, heroku: FakeHeroku) -> None:
        heroku.apps["shop"]["worker"].quantity = 1
        _provider(heroku).terminate(["shop.worker.4"], "r")
        assert heroku.quantity("shop") == 1 and heroku.patches() == []

    def test_foreign_ids_are_refused(self, heroku: FakeHeroku) -> None:
        with pytest.raises(ProviderError, match=r"not dynos of shop\.worker\.N"):
            _provider(heroku).terminate(["other.worker.1", "shop.web.1"], "r")

    def test_launch_of_another_size_resizes(self, heroku: FakeHeroku) -> None:
        launched = _provider(heroku).launch("performance-M", 1, "r")
        assert heroku.patches() == [{"quantity": 1, "dyno_size": {"name": "performance-M"}}]
        assert launched[0].type == "performance-M" and heroku.apps["shop"]["worker"].size == "performance-M"


class TestErrors:
    """API errors become ProviderErrors from the body's id and message; the token never shows."""

    @pytest.mark.parametrize(
        ("setup", "status", "ident"),
        [
            (lambda f: None, 401, "unauthorized"),
            (lambda f: f.apps.pop("shop"), 404, "not_found"),
            (lambda f: f.failures.append((403, "forbidden", "You do not have access to the app shop.")),
             403, "forbidden"),
        ],
        ids=["bad-token", "no-app", "forbidden"],
    )
    def test_client_errors(self, heroku: FakeHeroku, setup: Any, status: int, ident: str) -> None:
        setup(heroku)
        token = "wrong-secret-token" if status == 401 else heroku.token
        sleeps: list[float] = []
        with capture_logs() as logs, pytest.raises(ProviderError) as err:
            _provider(heroku, sleeps, token=token).list()
        assert f"{status} {ident}" in str(err.value)
        assert "heroku GET /apps/shop/formation/worker" in str(err.value)
        assert token not in str(err.value) and token not in repr(logs)
        assert sleeps == [] and len(heroku.requests) == 1  # no retry of a 4xx

    def test_unprocessable_quantity(self, heroku: FakeHeroku) -> None:
        heroku.max_quantity = 3
        with pytest.raises(ProviderError, match=r"422 invalid_params: Cannot update to more than 3"):
            _provider(heroku).launch("default", 4, "r")
        assert heroku.quantity("shop") == 0

    def test_unreachable_api(self) -> None:
        settings = heroku.Settings(app="shop", api_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
        sleeps: list[float] = []
        provider = heroku.HerokuProvider(settings, heroku.HerokuApi(settings, SecretStr("t"), sleeps.append))
        with pytest.raises(ProviderError, match=r"ConnectError.*gave up after 3 attempts"):
            provider.list()
        assert sleeps == [1.0, 2.0]


class TestRateLimits:
    """429 is retried with bounded exponential backoff; low RateLimit-Remaining paces calls."""

    def test_429_then_success(self, heroku: FakeHeroku) -> None:
        heroku.failures += [(429, "rate_limit", "slow down"), (429, "rate_limit", "slow down")]
        sleeps: list[float] = []
        assert _provider(heroku, sleeps).list() == []
        assert sleeps == [1.0, 2.0]

    def test_429_gives_up_after_max_retries(self, heroku: FakeHeroku) -> None:
        heroku.remaining = 0
        sleeps: list[float] = []
        with pytest.raises(ProviderError, match=r"(?s)429 rate_limit.*gave up after 4 attempts"):
            _provider(heroku, sleeps, max_retries=3, max_backoff=3).list()
        assert sleeps == [1.0, 2.0, 3.0]
        assert len(heroku.requests) == 4

    def test_server_errors_are_retried(self, heroku: FakeHeroku) -> None:
        heroku.failures.append((503, "service_unavailable", "try again"))
        sleeps: list[float] = []
        _provider(heroku, sleeps).launch("default", 1, "r")
        assert heroku.quantity("shop") == 1 and sleeps == [1.0]

    def test_low_remaining_paces_calls(self, heroku: FakeHeroku) -> None:
        heroku.remaining = 50
        sleeps: list[float] = []
        provider = _provider(heroku, sleeps, low_remaining=100, refill_per_minute=60)
        provider.list()
        assert sleeps == []  # nothing known yet
        provider.list()
        provider.launch("default", 1, "r")
        assert sleeps == [1.0, 1.0, 1.0]  # one token's refill before each call once low
        heroku.remaining = 4000
        provider.list()
        sleeps.clear()
        provider.list()
        assert sleeps == []


class TestToken:
    """The token comes from a named environment variable or a file; a missing one is a ConfigError."""

    def test_from_environment(self, monkeypatch: pytest.MonkeyPatch, heroku: FakeHeroku) -> None:
        monkeypatch.setenv("MY_TOKEN", heroku.token)
        settings = heroku_settings(heroku, token_env="MY_TOKEN")
        assert heroku_build(settings).list() == []

    def test_from_file(self, tmp_path: Path, heroku: FakeHeroku) -> None:
        (tmp_path / "token").write_text(heroku.token + "\n")
        assert heroku_build(heroku_settings(heroku, token_file=str(tmp_path / "token"))).list() == []

    def test_missing(self, monkeypatch: pytest.MonkeyPatch, heroku: FakeHeroku) -> None:
        monkeypatch.delenv("NOPE_TOKEN", raising=False)
        with pytest.raises(ConfigError, match=r"provider\.token_env: environment variable NOPE_TOKEN is not"):
            heroku_build(heroku_settings(heroku, token_env="NOPE_TOKEN"))


def heroku_settings(fake: FakeHeroku, **options: Any) -> heroku.Settings:
    return heroku.Settings.model_validate({"app": "shop", "api_url": fake.url, **options})


def heroku_build(settings: heroku.Settings) -> heroku.HerokuProvider:
    return heroku.build(settings, None)
