"""Live progress notifications: a small JSON message per change on a per-action Redis channel.

Subscribers (the SSE stream) recount from the store on each message, so a lost message only
delays an update; it never makes the counts wrong.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class _Publisher(Protocol):
    def publish(self, channel: str, message: str) -> Any: ...


class _AsyncPublisher(Protocol):
    async def publish(self, channel: str, message: str) -> Any: ...


def channel(action_id: str) -> str:
    return f"bnet:progress:{action_id}"


ALL_CHANNELS = "bnet:progress:*"


def publish(redis: _Publisher | None, action_id: str, payload: dict[str, Any]) -> None:
    if redis is None:
        return
    redis.publish(channel(action_id), json.dumps({"action_id": action_id, **payload}))


async def apublish(redis: _AsyncPublisher | None, action_id: str, payload: dict[str, Any]) -> None:
    if redis is None:
        return
    await redis.publish(channel(action_id), json.dumps({"action_id": action_id, **payload}))
