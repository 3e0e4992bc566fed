"""``GET /v1/actions/{id}/events``: live progress as Server-Sent Events.

The first event goes out at once; after that a fresh count is sent whenever a progress message
arrives for the action, and at least every ``_REFRESH_S`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from engine.actions.context import load_action
from engine.actions.counts import action_counts
from engine.api.auth import Principal, require
from engine.api.deps import AppDeps, Deps
from engine.api.progress_hub import ProgressHub

router = APIRouter(tags=["progress"])
Reader = Annotated[Principal, Depends(require("centralist", "auditor", "telecom-admin"))]
_REFRESH_S = 2.0


def hub_of(request: Request, deps: AppDeps) -> ProgressHub:
    hub: ProgressHub | None = getattr(request.app.state, "progress_hub", None)
    if hub is None:
        pool = getattr(deps.redis, "connection_pool", None)
        kwargs = dict(pool.connection_kwargs) if pool is not None else None
        hub = ProgressHub(kwargs, lambda action_id: _count(deps, action_id))
        request.app.state.progress_hub = hub
    return hub


def _count(deps: AppDeps, action_id: str) -> dict[str, Any]:
    with deps.session_factory() as session:
        return action_counts(session, action_id)


@router.get("/actions/{action_id}/events", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(action_id: str, request: Request, principal: Reader,
                 deps: Deps) -> EventSourceResponse:
    """SSE stream of counts: selected, queued, calling, answered, failed, SMS, callbacks."""

    def check() -> None:
        with deps.session_factory() as session:
            load_action(session, principal, action_id)

    await anyio.to_thread.run_sync(check)
    hub = hub_of(request, deps)
    return EventSourceResponse(_stream(request, deps, hub, action_id), ping=15)


async def _stream(request: Request, deps: AppDeps, hub: ProgressHub, action_id: str
                  ) -> AsyncIterator[dict[str, Any]]:
    wake = hub.listen(action_id)
    try:
        seq = 0
        last: dict[str, Any] | None = None
        while True:
            counts = await hub.counts(action_id, max_age_s=_REFRESH_S / 2)
            if counts != last or seq == 0:
                seq += 1
                yield {"event": "progress", "id": str(seq), "data": json.dumps(counts)}
                last = counts
            if await request.is_disconnected():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), _REFRESH_S)
            wake.clear()
    finally:
        hub.forget(action_id, wake)
