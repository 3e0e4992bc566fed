"""Telecom admin API for trunks: roles, tuning, live stats."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    # starlette's testclient touches a deprecated anyio alias at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.api import auth
from engine.api.app import create_app
from engine.config import Settings
from engine.dialer.http import router

pytestmark = pytest.mark.integration


def token(factory: sessionmaker[Session], role: str) -> dict[str, str]:
    with factory() as s, s.begin():
        created = auth.create_token(s, name=f"{role}-1", role=role, region="*")
    return {"Authorization": f"Bearer {created.secret}"}


@pytest.fixture
def client(session_factory: sessionmaker[Session], redis_client: Any) -> TestClient:
    app = create_app(Settings(), session_factory=session_factory, redis=redis_client)
    if not any(getattr(r, "path", "") == "/v1/trunks" for r in app.routes):
        app.include_router(router)
    return TestClient(app)


def test_telecom_admin_tunes_a_trunk_and_sees_live_stats(
    client: TestClient, session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    admin = token(session_factory, "telecom-admin")
    redis_client.hset(
        Settings().dialer.stats_key,
        "node-a",
        json.dumps({"node": "node-a", "trunks": [{
            "name": "trunk1", "in_use": 7, "attempts": 10, "answered": 6, "mean_hold_s": 30.0,
            "breaker": "closed", "causes": {"answered": 6, "busy": 4}}]}),
    )
    got = client.get("/v1/trunks", headers=admin)
    assert got.status_code == 200
    [trunk] = got.json()
    assert trunk["name"] == "trunk1"
    assert trunk["live"]["in_use"] == 7 and trunk["live"]["asr"] == 0.6
    patched = client.patch(
        "/v1/trunks/trunk1", headers=admin, json={"max_channels": 50, "enabled": False}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["max_channels"] == 50 and patched.json()["enabled"] is False
    bad = client.patch("/v1/trunks/trunk1", headers=admin, json={"max_channels": 0})
    assert bad.status_code == 422
    assert client.get("/v1/trunks/stats", headers=admin).json()["trunks"]["trunk1"]["in_use"] == 7


def test_a_centralist_may_not_touch_trunks(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    centralist = token(session_factory, "centralist")
    assert client.get("/v1/trunks", headers=centralist).status_code == 403
    assert client.patch("/v1/trunks/trunk1", json={"max_cps": 1}).status_code == 401
