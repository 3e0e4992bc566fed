"""Runs the IVR's store work off the event loop, one unit of work per call.

A small pool of its own, so a burst of callers does not queue behind other work in the
loop's default executor.  Measured with bench/ivr.py on SQLite: one thread (no write-lock
races) made a burst of 20 callers wait longer than 4 threads, whose reads and SQLite calls
overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction

T = TypeVar("T")


class StoreRunner:
    def __init__(self, factory: sessionmaker[Session], workers: int = 4) -> None:
        self._factory = factory
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivr-store")

    async def run(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in one transaction (commit on success, rollback on error)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._in_tx, fn)

    def _in_tx(self, fn: Callable[[Session], T]) -> T:
        with transaction(self._factory) as session:
            return fn(session)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
