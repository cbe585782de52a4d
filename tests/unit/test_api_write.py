"""The API's write endpoints: bearer tokens, the CLI's operator store, journaled who/when/why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetscale.api.auth import Tokens, load_tokens
from fleetscale.cli import main
from fleetscale.config import ApiConfig
from fleetscale.errors import ConfigError
from fleetscale.journal.operator_log import OperatorLog
from fleetscale.model import Direction
from tests.unit.api_kit import READ_TOKEN, TOKEN, ApiKit, api_kit


@pytest.fixture
def ak(tmp_path: Path) -> ApiKit:
    return api_kit(tmp_path, read_token=True)


def _events(ak: ApiKit) -> list[tuple[str, str, str, str]]:
    return [(e.action, e.who, e.detail, e.reason) for e in OperatorLog(ak.kit.journal.engine).events("web")]


ACTIONS = [("pause", {"reason": "x"}), ("resume", {}), ("hold", {"units": 3, "until": "+1h", "reason": "x"})]


class TestTokens:
    """401 without or with an unknown token, 403 with the read token, and nothing applied."""

    @pytest.mark.parametrize("action, body", ACTIONS, ids=[a for a, _ in ACTIONS])
    @pytest.mark.parametrize("token, status", [(None, 401), ("not-the-token", 401), (READ_TOKEN, 403),
                                               (TOKEN[:-1], 401), (TOKEN + "x", 401)],
                             ids=["none", "unknown", "read-only", "prefix", "longer"])
    def test_refused(self, ak: ApiKit, action: str, body: dict[str, object], token: str | None,
                     status: int) -> None:
        r = ak.post(f"/api/pools/web/{action}", body, token=token)
        assert r.status_code == status
        assert r.json()["field"] == "Authorization"
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer"
        assert _events(ak) == []
        assert ak.kit.journal.operator("web", ak.kit.clock.now()).paused == frozenset()

    def test_reads_need_a_token_when_a_read_token_is_set(self, ak: ApiKit) -> None:
        assert ak.get("/api/pools").status_code == 401
        assert ak.get("/api/pools", token="nope").status_code == 401
        assert ak.get("/api/pools", token=READ_TOKEN).status_code == 200
        assert ak.get("/api/pools", token=TOKEN).status_code == 200
        assert ak.get("/healthz").status_code == 200  # probes need no token

    def test_read_only_server(self, tmp_path: Path) -> None:
        """``fleetscale serve`` is a view: writes answer 403 even with the write token."""
        ak = api_kit(tmp_path, writable=False)
        r = ak.post("/api/pools/web/pause", {"reason": "x"})
        assert r.status_code == 403 and "read-only" in r.json()["error"]
        assert _events(ak) == []

    def test_no_write_token_configured(self, tmp_path: Path) -> None:
        ak = api_kit(tmp_path, write_token=False)
        assert ak.post("/api/pools/web/pause", {"reason": "x"}).status_code == 403
        assert ak.get("/api/pools").status_code == 200


class TestActions:
    """pause, resume, hold change what the controller reads, and are journaled with who and why."""

    def test_pause_reaches_the_controller(self, ak: ApiKit) -> None:
        r = ak.post("/api/pools/web/pause", {"direction": "up", "reason": "provider incident"})
        assert r.status_code == 200
        body = r.json()
        assert body["paused"] == ["up"] and body["held"] is None
        assert body["action"]["who"] == "api" and body["action"]["reason"] == "provider incident"
        assert ak.kit.journal.operator("web", ak.kit.clock.now()).paused == {Direction.UP}
        ak.step([9.0])  # load up: the controller does not scale up while paused
        rec = ak.kit.journal.cycles("web", 1)[-1]
        assert rec["decision"]["desired"] == rec["decision"]["current"] == 1
        assert ak.get("/api/pools/web", token=READ_TOKEN).json()["pool"]["paused"] == ["up"]

    def test_hold_then_resume(self, ak: ApiKit) -> None:
        now = ak.kit.clock.now()
        r = ak.post("/api/pools/web/hold", {"units": 4, "until": "+30m", "reason": "launch event"})
        assert r.status_code == 200
        until = (now + timedelta(minutes=30)).isoformat()
        assert r.json()["held"] == {"units": 4, "until": until}
        ak.step([1.0])
        assert ak.kit.journal.cycles("web", 1)[-1]["decision"]["desired"] == 4
        r = ak.post("/api/pools/web/resume", {"reason": "event over"})
        assert r.status_code == 200 and r.json()["held"] is None and r.json()["paused"] == []
        assert _events(ak) == [("hold", "api", f"4 units until {until}", "launch event"),
                               ("resume", "api", "1 pause/hold removed", "event over")]

    def test_resume_without_a_body(self, ak: ApiKit) -> None:
        ak.post("/api/pools/web/pause", {"reason": "x"})
        r = ak.post("/api/pools/web/resume")
        assert r.status_code == 200 and r.json()["action"]["detail"] == "2 pause/hold removed"

    def test_explain_shows_who_and_why(self, ak: ApiKit, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        ak.post("/api/pools/web/pause", {"direction": "down", "reason": "investigating drains"})
        ak.step([1.0])
        url = f"sqlite:///{tmp_path / 'journal.db'}"
        capsys.readouterr()
        assert main(["explain", "web", "--journal", url, "--last", "2"]) == 0
        blocks = [b.splitlines()[0] for b in capsys.readouterr().out.split("\n\n")]
        # in time order: after the cycle before it, before the cycle after it (set at 00:11:00)
        assert blocks == ["2026-01-05 00:10:00 UTC  web  HOLD 1 -> 1 units",
                          "2026-01-05 00:11:00 UTC  web  OPERATOR pause (down) by api: investigating drains",
                          "2026-01-05 00:11:00 UTC  web  HOLD 1 -> 1 units"]

    def test_cli_and_api_share_the_store(self, ak: ApiKit, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        url = f"sqlite:///{tmp_path / 'journal.db'}"
        assert main(["pause", "web", "--journal", url, "--reason", "from the shell"]) == 0
        p = ak.get("/api/pools/web", token=TOKEN).json()
        assert p["pool"]["paused"] == ["down", "up"]
        assert p["operator_actions"][-1]["reason"] == "from the shell"
        assert p["operator_actions"][-1]["who"].startswith("cli")
        ak.post("/api/pools/web/resume", {"reason": "from the API"})
        assert main(["explain", "web", "--journal", url, "--last", "1"]) == 0
        assert main(["hold", "web", "2", "--until", "+1h", "--journal", url]) == 0
        assert ak.get("/api/pools/web", token=TOKEN).json()["pool"]["held"]["units"] == 2


class TestBadInput:
    """A bad body is a 422 naming the field as written; an unknown pool a 404; nothing applied."""

    @pytest.mark.parametrize("action, body, field", [
        ("pause", {}, "reason"),
        ("pause", {"reason": ""}, "reason"),
        ("pause", {"reason": "x", "direction": "sideways"}, "direction"),
        ("pause", {"reason": "x", "force": True}, "force"),
        ("pause", ["reason"], "body"),
        ("hold", {"units": -1, "until": "+1h", "reason": "x"}, "units"),
        ("hold", {"units": "four", "until": "+1h", "reason": "x"}, "units"),
        ("hold", {"units": 11, "until": "+1h", "reason": "x"}, "units"),
        ("hold", {"units": 3, "until": "tomorrow", "reason": "x"}, "until"),
        ("hold", {"units": 3, "until": "2026-01-05T18:00:00", "reason": "x"}, "until"),
        ("hold", {"units": 3, "until": "2025-01-01T00:00:00Z", "reason": "x"}, "until"),
        ("hold", {"units": 3, "reason": "x"}, "until"),
        ("resume", {"reason": 5}, "reason"),
    ], ids=["pause-no-reason", "pause-empty-reason", "pause-direction", "pause-extra", "pause-list",
            "hold-negative", "hold-text", "hold-above-max", "hold-until-text", "hold-until-no-zone",
            "hold-until-past", "hold-no-until", "resume-reason-type"])
    def test_422(self, ak: ApiKit, action: str, body: object, field: str) -> None:
        r = ak.post(f"/api/pools/web/{action}", body)
        assert r.status_code == 422, r.json()
        assert r.json()["field"] == field
        assert r.json()["error"].startswith(f"{field}: ")
        assert _events(ak) == []
        assert ak.kit.journal.operator("web", ak.kit.clock.now()).override is None

    def test_not_json(self, ak: ApiKit) -> None:
        r = ak.client.post("/api/pools/web/pause", content=b"{reason: x",
                           headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["field"] == "body"

    @pytest.mark.parametrize("action, body", ACTIONS, ids=[a for a, _ in ACTIONS])
    def test_unknown_pool(self, ak: ApiKit, action: str, body: dict[str, object]) -> None:
        r = ak.post(f"/api/pools/nope/{action}", body)
        assert r.status_code == 404 and r.json()["field"] == "pool"
        assert OperatorLog(ak.kit.journal.engine).events("nope") == []


class TestLoadTokens:
    """Tokens come from a file or a variable; a problem names the field, never the token."""

    def test_file_and_env(self, tmp_path: Path) -> None:
        f = tmp_path / "tok"
        f.write_text("  abc-123\n")
        tokens = load_tokens(ApiConfig(token_file=f, read_token_env="RT"), {"RT": "r-456"})
        assert tokens == Tokens(write=b"abc-123", read=b"r-456")
        assert "abc" not in repr(tokens)
        assert tokens.who("abc-123") == "api" and tokens.who("r-456") == "api-read"
        assert tokens.who(None) is None and tokens.who("") is None

    @pytest.mark.parametrize("api, env, line", [
        ({"token_file": "/nonexistent/tok"}, {}, "api.token_file: cannot read it: No such file or directory "
                                                 "(got /nonexistent/tok)"),
        ({"token_env": "FS_TOKEN"}, {}, "api.token_env: environment variable FS_TOKEN is not set or empty "
                                        "(got FS_TOKEN)"),
        ({"token_env": "A", "read_token_env": "B"}, {"A": "same", "B": "same"},
         "api.read_token_file: the read token must differ from the write token (got the same token)"),
    ], ids=["missing-file", "unset-env", "same-token"])
    def test_problems(self, api: dict[str, str], env: dict[str, str], line: str) -> None:
        with pytest.raises(ConfigError) as err:
            load_tokens(ApiConfig.model_validate(api), env)
        assert err.value.problems == [line]

    def test_empty_file(self, tmp_path: Path) -> None:
        f = tmp_path / "tok"
        f.write_text("\n")
        with pytest.raises(ConfigError, match=r"api.token_file: the file is empty"):
            load_tokens(ApiConfig(token_file=f))
