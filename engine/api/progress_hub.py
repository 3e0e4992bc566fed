"""One Redis pattern subscription per API process, fanned out to every SSE listener.

200 browsers watching progress must not mean 200 Redis connections, nor 200 recounts per
change: the hub subscribes once to ``bnet:progress:*``, wakes the listeners of the action a
message names, and shares one recount per change among them. Listeners also refresh on a
timer, so a lost message or a Redis outage only delays an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from engine.actions.progress import ALL_CHANNELS

log = logging.getLogger(__name__)
_PREFIX = ALL_CHANNELS.rstrip("*")
Counter = Callable[[str], dict[str, Any]]


@dataclass
class _Counted:
    generation: int
    at: float
    counts: dict[str, Any]


class ProgressHub:
    def __init__(self, redis_kwargs: dict[str, Any] | None, counter: Counter) -> None:
        self._redis_kwargs = redis_kwargs
        self._counter = counter
        self._listeners: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._generation: dict[str, int] = defaultdict(int)
        self._cache: dict[str, _Counted] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
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
                for table in (self._listeners, self._generation, self._cache, self._locks):
                    table.pop(action_id, None)

    async def counts(self, action_id: str, max_age_s: float) -> dict[str, Any]:
        """Counts no older than the last change message and ``max_age_s``; one recount shared."""
        async with self._locks[action_id]:
            generation = self._generation[action_id]
            cached = self._cache.get(action_id)
            if cached and cached.generation == generation and \
                    time.monotonic() - cached.at < max_age_s:
                return cached.counts
            started = time.monotonic()
            counts = await anyio.to_thread.run_sync(self._counter, action_id)
            self._cache[action_id] = _Counted(generation, started, counts)
            return counts

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
            except Exception as exc:  # keep serving from the timer, retry
                self._subscribed.clear()
                log.warning("progress subscription lost: %s; retrying", exc)
                await asyncio.sleep(1.0)

    async def _pump(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "pmessage":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            action_id = name[len(_PREFIX):]
            listeners = self._listeners.get(action_id)
            if not listeners:
                continue
            self._generation[action_id] += 1
            for event in list(listeners):
                event.set()
