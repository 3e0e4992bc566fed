"""One Redis pattern subscription per API process, fanned out to every SSE listener.

200 browsers watching progress must not mean 200 Redis connections: the hub subscribes once
to ``bnet:progress:*`` and wakes the listeners of the action a message names. Listeners also
wake on a timer, so a lost message or a Redis outage only delays an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from engine.actions.progress import ALL_CHANNELS

log = logging.getLogger(__name__)
_PREFIX = ALL_CHANNELS.rstrip("*")


class ProgressHub:
    def __init__(self, redis_kwargs: dict[str, Any] | None) -> None:
        self._redis_kwargs = redis_kwargs
        self._listeners: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def listen(self, action_id: str) -> asyncio.Event:
        self._ensure_started()
        event = asyncio.Event()
        self._listeners[action_id].add(event)
        return event

    def forget(self, action_id: str, event: asyncio.Event) -> None:
        listeners = self._listeners.get(action_id)
        if listeners is not None:
            listeners.discard(event)
            if not listeners:
                del self._listeners[action_id]

    async def ready(self, timeout: float = 2.0) -> bool:
        """Wait until the subscription is live (tests, benchmarks)."""
        self._ensure_started()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        return self._subscribed.is_set()

    def _ensure_started(self) -> None:
        if self._redis_kwargs is not None and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        import redis.asyncio as aioredis

        while True:
            try:
                client = aioredis.Redis(**(self._redis_kwargs or {}))
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(ALL_CHANNELS)
                    self._subscribed.set()
                    await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("progress subscription lost: %s; retrying", exc)
                await asyncio.sleep(1.0)

    async def _pump(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "pmessage":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            for event in list(self._listeners.get(name[len(_PREFIX):], ())):
                event.set()
