"""One worker thread for all of a dialer node's store work, claims first.

Claims, result batches and pages run one after another on the same thread: SQLite has one
writer at a time, and writers of one process competing for its lock wait in SQLite's busy
handler (sleeps of up to 100 ms), which would leave lines idle. Claims jump the queue: a line
waits for its claim, while results and pages can wait a few milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

__all__ = ["BACKGROUND", "CLAIM", "StoreThread"]

T = TypeVar("T")
CLAIM, BACKGROUND = 0, 1
_STOP = (99, 0, None, None, None)


class StoreThread:
    def __init__(self) -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Any, Any, Any]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._work, name="dialer-store", daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., T], *args: Any, priority: int = BACKGROUND) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((priority, next(self._seq), partial(fn, *args), loop, future))
        return await future

    def _work(self) -> None:
        while True:
            _, _, job, loop, future = self._jobs.get()
            if job is None:
                return
            try:
                result = job()
            except BaseException as exc:  # handed to the awaiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join(timeout=30)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
