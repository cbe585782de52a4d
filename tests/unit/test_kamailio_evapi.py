"""Kamailio's evapi events: netstring framing, event parsing, the source's setting, routing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.kamailio.evapi import (
    KamailioEvent,
    NetstringDecoder,
    NetstringError,
    parse_event,
    split_address,
)
from fleetscale.kamailio.watch import KamailioWatch
from fleetscale.sources.kamailio import Settings


def frame(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class TestNetstring:
    """Payloads come out whole, however the stream is cut; bad framing is refused."""

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.binary(max_size=300), max_size=8), st.data())
    def test_any_split_gives_the_same_payloads(self, payloads: list[bytes], data: st.DataObject) -> None:
        stream = b"".join(frame(p) for p in payloads)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
        decoder, out, last = NetstringDecoder(), [], 0
        for cut in [*cuts, len(stream)]:
            out += decoder.feed(stream[last:cut])
            last = cut
        assert out == payloads

    @pytest.mark.parametrize("stream", [b"abc:xyz,", b"3:abcX", b"-1:a,", b"007:abcdefg,", b"9" * 12,
                                        b"99999999:x,"], ids=["letters", "no-comma", "negative",
                                                              "leading-zero", "endless-length", "too-big"])
    def test_bad_framing_is_refused(self, stream: bytes) -> None:
        with pytest.raises(NetstringError):
            NetstringDecoder().feed(stream)


class TestParseEvent:
    def test_kamailio_event(self) -> None:
        raw = b'{"event":"register","user":"gw-1","ts":1796078093.163399}'
        assert parse_event(raw) == KamailioEvent("register", "gw-1", None, 1796078093.163399)

    @pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"user":"x"}', b'{"event":""}', b"\xff\xfe"],
                             ids=["text", "list", "no-event", "empty-event", "binary"])
    def test_garbage_is_a_value_error(self, raw: bytes) -> None:
        with pytest.raises(ValueError):
            parse_event(raw)

    def test_odd_fields_are_dropped(self) -> None:
        event = parse_event(b'{"event":"call-end","dst":5,"ts":"soon","user":null}')
        assert event == KamailioEvent("call-end")


class TestAddressSetting:
    @pytest.mark.parametrize("value", ["127.0.0.1:8448", "kamailio.local:9000", "[::1]:8448"])
    def test_good(self, value: str) -> None:
        assert Settings(evapi_address=value).evapi_address == value

    @pytest.mark.parametrize("value", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", ":8448", "host:port"])
    def test_bad_names_the_field(self, value: str) -> None:
        with pytest.raises(ValueError, match="evapi_address") as err:
            Settings(evapi_address=value)
        assert "host:port" in str(err.value)

    def test_split(self) -> None:
        assert split_address("[::1]:8448") == ("::1", 8448)


class TestRouting:
    """Which events notify the pool (no connection needed: the handlers are called directly)."""

    def make(self, known: frozenset[str] | None) -> tuple[KamailioWatch, list[str]]:
        seen: list[str] = []
        watch = KamailioWatch("127.0.0.1:9", "sip", seen.append, "gw-", lambda: known, None)
        return watch, seen

    def test_registration_of_the_pool_prefix(self) -> None:
        watch, seen = self.make(None)
        watch._on_event(KamailioEvent("register", "gw-7"))
        watch._on_event(KamailioEvent("register", "other-1"))
        watch._on_event(KamailioEvent("expired", "gw-2"))
        assert seen == ["kamailio: register gw-7", "kamailio: expired gw-2"]

    def test_calls_on_known_gateways_only(self) -> None:
        watch, seen = self.make(frozenset({"127.0.0.1:5071"}))
        watch._on_event(KamailioEvent("call-start", dst="sip:127.0.0.1:5071"))
        watch._on_event(KamailioEvent("call-start", dst="sip:127.0.0.1:6000"))
        watch._on_event(KamailioEvent("something-else"))
        assert seen == ["kamailio: call-start 127.0.0.1:5071"]

    def test_calls_before_the_first_read_notify(self) -> None:
        watch, seen = self.make(None)
        watch._on_event(KamailioEvent("call-end", dst="sip:127.0.0.1:6000"))
        assert seen == ["kamailio: call-end 127.0.0.1:6000"]
