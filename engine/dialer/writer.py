"""Batches what the dialer learned into the store, off the event loop.

Answers and results are buffered and written every ``interval`` seconds in one transaction
(in a worker thread), then one progress message per touched action goes out on Redis. A
failed write is kept and tried again: a result is never dropped because the store hiccupped.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import progress
from engine.dialer.records import Answered, AttemptResult, record_answered, record_results
from engine.dialer.store_thread import StoreThread
from engine.store.db import transaction

__all__ = ["ResultWriter"]

log = logging.getLogger(__name__)
QueueEventSink = Callable[[Session, dict[str, str]], object]


def _queue_event_sink() -> QueueEventSink | None:
    """The IVR's queue bookkeeping, when that feature is installed."""
    try:
        module = importlib.import_module("engine.ivr.inbound_calls")
    except ImportError:
        return None
    sink = getattr(module, "record_queue_event", None)
    return sink if callable(sink) else None


class ResultWriter:
    def __init__(
        self,
        factory: sessionmaker[Session],
        redis: Any,
        *,
        interval: float = 0.1,
        on_retries: Callable[[set[str]], None] | None = None,
        store: StoreThread | None = None,
        max_batch: int = 100,
    ) -> None:
        self.store = store or StoreThread()
        self.max_batch = max_batch
        self.factory, self.redis, self.interval = factory, redis, interval
        self.on_retries = on_retries
        self._answered: list[Answered] = []
        self._results: list[AttemptResult] = []
        self._queue_events: list[dict[str, str]] = []
        self._sink = _queue_event_sink()
        self.written = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def answered(self, item: Answered) -> None:
        self._answered.append(item)
        self._idle.clear()

    def result(self, item: AttemptResult) -> None:
        self._results.append(item)
        self._idle.clear()

    def queue_event(self, event: dict[str, str]) -> None:
        if self._sink is not None:
            self._queue_events.append(event)
            self._idle.clear()

    @property
    def pending(self) -> int:
        return len(self._answered) + len(self._results) + len(self._queue_events)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            self._idle.set()
            return
        # Bounded batches: claims share the store thread and must not wait long behind us.
        n = self.max_batch
        answered, self._answered = self._answered[:n], self._answered[n:]
        results, self._results = self._results[:n], self._results[n:]
        events, self._queue_events = self._queue_events[:n], self._queue_events[n:]
        try:
            retry_actions = await self.store.run(self._write, answered, results, events)
        except Exception:
            log.exception("dialer: writing %d results failed; will retry", len(results))
            self._answered[:0], self._results[:0] = answered, results
            self._queue_events[:0] = events
            return
        self.written += len(results)
        if retry_actions and self.on_retries is not None:
            self.on_retries(retry_actions)
        if not self.pending:
            self._idle.set()

    async def drained(self) -> None:
        """Wait until everything buffered so far is in the store."""
        while self.pending:
            await self.flush()
        self._idle.set()

    def _write(
        self,
        answered: list[Answered],
        results: list[AttemptResult],
        events: list[dict[str, str]],
    ) -> set[str]:
        with transaction(self.factory) as session:
            record_answered(session, answered)
            record_results(session, results)
            for event in events:
                assert self._sink is not None
                self._sink(session, event)
        retry_actions = {r.action_id for r in results if r.retry is not None}
        self._publish(answered, results)
        return retry_actions

    def _publish(self, answered: list[Answered], results: list[AttemptResult]) -> None:
        counts: dict[str, Counter[str]] = {}
        for a in answered:
            counts.setdefault(a.action_id, Counter())["answered"] += 1
        for r in results:
            counts.setdefault(r.action_id, Counter())[r.outcome] += 1
        for action_id, counter in counts.items():
            try:
                progress.publish(self.redis, action_id, {"kind": "calls", **counter})
            except Exception:  # progress is best effort: the SSE stream recounts from the DB
                log.warning("dialer: progress publish failed for %s", action_id)
