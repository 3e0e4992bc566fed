"""Keeps the planner supplied with queued attempts from the store, a page at a time.

Runs its store work in a worker thread. Actions appear when the actions service wakes us
(``bnet:dialer:wake``) or when the periodic poll finds due attempts (retries, another node's
leftovers); an action leaves the planner once it has nothing queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from engine.dialer.planner import Candidate, Planner
from engine.dialer.records import ActionMeta, action_meta, due_actions, load_page
from engine.dialer.store_thread import StoreThread
from engine.store.base import utcnow
from engine.store.db import transaction

__all__ = ["Feeder"]


class Feeder:
    def __init__(
        self,
        factory: sessionmaker[Session],
        planner: Planner,
        *,
        page_size: int = 500,
        poll_s: float = 1.0,
        on_loaded: Callable[[], None] = lambda: None,
        wallclock: Callable[[], datetime] = utcnow,
        store: StoreThread | None = None,
    ) -> None:
        self.store = store or StoreThread()
        self.factory, self.planner = factory, planner
        self.page_size, self.poll_s = page_size, poll_s
        self.on_loaded, self.wallclock = on_loaded, wallclock
        self.meta: dict[str, ActionMeta] = {}
        self.cancelled: set[str] = set()
        self._wanted: set[str] = set()  # woken actions: rescan from the nearest row
        self._kick = asyncio.Event()
        self._last_poll = 0.0

    def wake(self, action_id: str | None = None) -> None:
        if action_id:
            self._wanted.add(action_id)
        self._kick.set()

    def cancel(self, action_id: str) -> list[Candidate]:
        self.cancelled.add(action_id)
        self._wanted.discard(action_id)
        return self.planner.remove_action(action_id)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.poll_s / 4)
            self._kick.clear()
            await self.feed_once()

    async def feed_once(self) -> int:
        now_mono = time.monotonic()
        poll = now_mono - self._last_poll >= self.poll_s
        if poll:
            self._last_poll = now_mono
        wanted, self._wanted = self._wanted, set()
        needy = [a for a in self.planner.actions() if self.planner.needs_page(a)]
        if not (poll or wanted or needy):
            return 0
        pages, meta = await self.store.run(self._load, poll, wanted, needy)
        return self._apply(pages, meta)

    def _load(
        self, poll: bool, wanted: set[str], needy: list[str]
    ) -> tuple[dict[str, tuple[list[Candidate], bool]], dict[str, ActionMeta]]:
        now = self.wallclock()
        with transaction(self.factory) as session:
            actions = set(needy) | wanted
            if poll:
                # New actions and due retries; an action already paged in is only read again
                # when it runs low (else every poll would pile another page into memory).
                paged_in = set(self.planner.actions())
                actions |= {a for a, _ in due_actions(session, now) if a not in paged_in}
            actions -= self.cancelled
            meta = action_meta(session, actions)
            pages: dict[str, tuple[list[Candidate], bool]] = {}
            for action_id in actions:
                known = action_id in self.planner.actions() and action_id not in wanted
                cursor = self.planner.page_cursor(action_id) if known else None
                page = load_page(session, action_id, cursor, self.page_size, now)
                pages[action_id] = (page, len(page) >= self.page_size)
        return pages, meta

    def _apply(
        self, pages: dict[str, tuple[list[Candidate], bool]], meta: dict[str, ActionMeta]
    ) -> int:
        self.meta.update(meta)
        added = 0
        for action_id, (page, full) in pages.items():
            info = meta.get(action_id)
            if action_id in self.cancelled or info is None or info.state != "running":
                continue
            if not page and self.planner.queued(action_id) == 0:
                self.planner.remove_action(action_id)
                continue
            self.planner.add_action(action_id, info.priority)
            added += self.planner.offer(action_id, page)
            last = (page[-1].rank, page[-1].attempt_id) if page else None
            self.planner.paged(action_id, last, full)
        if added:
            self.on_loaded()
        return added
