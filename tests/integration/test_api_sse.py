"""Live progress over SSE against a real uvicorn and a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine.actions import progress
from engine.actions.models import CallAttempt
from engine.api import routes_events
from engine.api.app import create_app
from tests import actions_support
from tests.actions_support import LiveServer, new_action, token

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings
deventer = actions_support.deventer

pytestmark = pytest.mark.integration


def events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    data = None
    for line in lines:
        if line.startswith("data:"):
            data = json.loads(line[5:].strip())
        elif line == "" and data is not None:
            yield data
            data = None


def wait_for_subscriber(redis_client: Any) -> None:
    deadline = time.monotonic() + 10
    while redis_client.execute_command("PUBSUB", "NUMPAT") < 1:
        assert time.monotonic() < deadline, "the progress hub never subscribed"
        time.sleep(0.01)


def test_first_event_at_once_then_one_per_change(api_settings, api_factory, deventer,
                                                 redis_client, monkeypatch):
    # Only a Redis message can cause the second event within this test.
    monkeypatch.setattr(routes_events, "_REFRESH_S", 120.0)
    app = create_app(api_settings, session_factory=api_factory, redis=redis_client)
    h = token(api_factory, "centralist", "ijsselland")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=20) as http:
        created = http.post("/v1/actions", json=new_action(), headers=h).json()
        aid = created["id"]
        with http.stream("GET", f"/v1/actions/{aid}/events", headers=h) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            it = events(stream.iter_lines())
            first = next(it)
            assert first["selected"] == created["wave"]["targets"]
            assert first["queued"] == created["wave"]["calls"] and first["answered"] == 0
            wait_for_subscriber(redis_client)
            with api_factory() as s, s.begin():
                call = s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)).first()
                assert call is not None
                call.state, call.answered_at = "answered", call.due_at
            progress.publish(redis_client, aid, {"kind": "call", "state": "answered"})
            second = next(it)
    assert second["answered"] == 1 and second["queued"] == first["queued"] - 1


def test_events_of_another_region_are_404(api_settings, api_factory, deventer, redis_client):
    app = create_app(api_settings, session_factory=api_factory, redis=redis_client)
    own = token(api_factory, "centralist", "ijsselland")
    other = token(api_factory, "centralist", "gelderland-noord")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=20) as http:
        aid = http.post("/v1/actions", json=new_action(), headers=own).json()["id"]
        r = http.get(f"/v1/actions/{aid}/events", headers=other)
        unauth = http.get(f"/v1/actions/{aid}/events")
    assert r.status_code == 404 and r.json()["code"] == "action_not_found"
    assert unauth.status_code == 401


def test_concurrent_expands_never_fail_with_500_nor_double_a_number(api_settings, api_factory,
                                                                     deventer, redis_client):
    from concurrent.futures import ThreadPoolExecutor

    from engine.actions.models import ActionTarget

    app = create_app(api_settings, session_factory=api_factory, redis=redis_client)
    h = token(api_factory, "centralist", "ijsselland")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        aid = http.post("/v1/actions", json=new_action(area={"radius_m": 300}),
                        headers=h).json()["id"]

        def expand(radius: int) -> httpx.Response:
            return http.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": radius}},
                             headers=h)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(expand, [3000, 4000, 5000, 6000, 7000, 8000]))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 409, 503} and 200 in statuses, [r.text for r in answers]
    for r in answers:
        if r.status_code != 200:
            assert r.headers["content-type"].startswith("application/problem+json")
    with api_factory() as s:
        numbers = s.scalars(select(ActionTarget.e164).where(ActionTarget.action_id == aid)).all()
    assert len(numbers) == len(set(numbers))
