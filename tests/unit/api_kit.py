"""Shared set-up for the API tests: a simulated pool run for real cycles into a SQLite journal,
and the FastAPI application over that journal (its own engine, as under ``fleetscale run``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleetscale.api import catalogue
from fleetscale.api.app import Serving, build_app
from fleetscale.api.auth import Tokens
from fleetscale.api.views import ReadModel
from tests.unit.controller_kit import Kit, kit, pool_config

TOKEN = "write-token-7f3a9c"
READ_TOKEN = "read-token-19bc44"
#: load per cycle: up, hold, down (drains with sessions), so every kind of row exists
LOADS = (2.0, 2.0, 6.0, 6.0, 6.0, 6.0, 3.0, 3.0, 1.0, 1.0, 1.0)


@dataclass
class ApiKit:
    kit: Kit
    model: ReadModel
    client: TestClient
    cycles: list[int]

    @property
    def pool(self) -> str:
        return self.kit.runner.name

    def get(self, path: str, token: str | None = None, params: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, params=params or {}, headers=headers)

    def post(self, path: str, body: Any = None, token: str | None = TOKEN, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post(path, json=body, headers=headers, **kw)

    def step(self, loads: Sequence[float]) -> None:
        for load in loads:
            self.kit.source.value = load
            self.kit.step()
            self.cycles[0] += 1


def api_kit(tmp_path: Path, loads: Sequence[float] = LOADS, *, writable: bool = True,
            read_token: bool = False, write_token: bool = True, publish: bool = True,
            journal_errors: Callable[[], Mapping[str, str]] | None = None) -> ApiKit:
    pool = pool_config(min=1, max=10, policies=[{"kind": "target", "target": 1}])
    k = kit(tmp_path, load=loads[0] if loads else 0.0, pool=pool)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    model = ReadModel(engine)
    if publish:
        catalogue.publish(engine, [catalogue.PoolSpec.of(pool)], k.clock.now())
    cycles = [0]
    tokens = Tokens(write=TOKEN.encode() if write_token else None,
                    read=READ_TOKEN.encode() if read_token else None)
    app = build_app(Serving(model, tokens, writable=writable, cycles_done=lambda: cycles[0], now=k.clock.now,
                            journal_errors=journal_errors))
    out = ApiKit(k, model, TestClient(app), cycles)
    out.step(loads)
    return out
