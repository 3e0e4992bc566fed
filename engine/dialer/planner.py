"""Which call goes next: nearest first within an action, lines shared across actions by weight.

Pure and in memory. The service feeds each action's queued attempts in pages (so a 100,000
participant action never sits in memory at once) and asks ``pick`` for as many calls as there
are free lines, the moment a line frees up. Sharing is stride scheduling: every action advances
its ``pass`` by ``1/weight`` per call, the smallest pass goes next, so an action with priority
90 gets 90/(90+20) of the lines next to one with 20 and neither starves.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Candidate", "Planner"]

L = TypeVar("L")
#: How many attempts behind a blocked nearest one are tried (see ``_first_reservable``).
LOOKAHEAD = 16


@dataclass(frozen=True, slots=True, order=True)
class Candidate:
    """A queued attempt as the planner needs it (ordered nearest first)."""

    rank: int
    attempt_no: int
    attempt_id: str
    action_id: str = field(compare=False)
    e164: str = field(compare=False)
    purpose: str = field(default="alert", compare=False)
    avoid_trunk: str | None = field(default=None, compare=False)


@dataclass(slots=True)
class _ActionQueue:
    action_id: str
    weight: float
    pass_value: float
    heap: list[Candidate] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    cursor: tuple[int, str] | None = None  # (rank, id) of the last row paged in
    exhausted: bool = False  # the last page reached the end of the queued rows


class Planner:
    def __init__(self, *, low_water: int = 200) -> None:
        self.low_water = low_water
        self._actions: dict[str, _ActionQueue] = {}

    # -- actions ------------------------------------------------------------------------------
    def add_action(self, action_id: str, priority: int) -> None:
        weight = float(max(priority, 1))
        queue = self._actions.get(action_id)
        if queue is not None:
            queue.weight = weight
            return
        # Join at the current minimum pass: a newcomer gets its share from now on, no burst.
        start = min((q.pass_value for q in self._actions.values()), default=0.0)
        self._actions[action_id] = _ActionQueue(action_id, weight, start)

    def actions(self) -> list[str]:
        return list(self._actions)

    def remove_action(self, action_id: str) -> list[Candidate]:
        """Forget an action (cancelled or finished); returns the attempts it still held."""
        queue = self._actions.pop(action_id, None)
        return sorted(queue.heap) if queue else []

    # -- feeding ------------------------------------------------------------------------------
    def offer(self, action_id: str, candidates: Iterable[Candidate]) -> int:
        """Add queued attempts (a page from the store, an expansion, a retry); returns new ones."""
        queue = self._actions[action_id]
        added = 0
        for cand in candidates:
            if cand.attempt_id in queue.ids:
                continue
            queue.ids.add(cand.attempt_id)
            heapq.heappush(queue.heap, cand)
            added += 1
        return added

    def needs_page(self, action_id: str) -> bool:
        queue = self._actions.get(action_id)
        return queue is not None and len(queue.heap) < self.low_water

    def page_cursor(self, action_id: str) -> tuple[int, str] | None:
        return self._actions[action_id].cursor

    def paged(self, action_id: str, last: tuple[int, str] | None, full_page: bool) -> None:
        """Record where the last page ended; a short page wraps the cursor around so the next
        scan starts again from the nearest row (due retries, an expansion with low ranks)."""
        queue = self._actions[action_id]
        queue.cursor = last if full_page else None
        queue.exhausted = not full_page

    def queued(self, action_id: str | None = None) -> int:
        if action_id is not None:
            queue = self._actions.get(action_id)
            return len(queue.heap) if queue else 0
        return sum(len(q.heap) for q in self._actions.values())

    # -- picking ------------------------------------------------------------------------------
    def pick(
        self, reserve: Callable[[Candidate], L | None], limit: int
    ) -> list[tuple[Candidate, L]]:
        """Up to ``limit`` (candidate, line) pairs, fairly across actions.

        ``reserve`` returns a line for a candidate or None; an action whose head cannot get a
        line (its numbers' trunks are full) sits out this round instead of blocking the others.
        """
        out: list[tuple[Candidate, L]] = []
        blocked: set[str] = set()
        while len(out) < limit:
            queue = self._next_queue(blocked)
            if queue is None:
                break
            found = self._first_reservable(queue, reserve)
            if found is None:
                blocked.add(queue.action_id)
                continue
            cand, line = found
            queue.ids.discard(cand.attempt_id)
            queue.pass_value += 1.0 / queue.weight
            out.append((cand, line))
        return out

    @staticmethod
    def _first_reservable(
        queue: _ActionQueue, reserve: Callable[[Candidate], L | None]
    ) -> tuple[Candidate, L] | None:
        """The nearest attempt that gets a line; when the nearest cannot (its trunk is full or
        down), the next few nearest may (another trunk), so one number does not hold up all."""
        head = queue.heap[0]
        line = reserve(head)
        if line is not None:
            heapq.heappop(queue.heap)
            return head, line
        for cand in heapq.nsmallest(LOOKAHEAD + 1, queue.heap)[1:]:
            line = reserve(cand)
            if line is not None:
                queue.heap.remove(cand)
                heapq.heapify(queue.heap)
                return cand, line
        return None

    def _next_queue(self, blocked: set[str]) -> _ActionQueue | None:
        best: _ActionQueue | None = None
        for queue in self._actions.values():
            if not queue.heap or queue.action_id in blocked:
                continue
            if best is None or (queue.pass_value, -queue.weight) < (best.pass_value, -best.weight):
                best = queue
        return best

    def put_back(self, cand: Candidate) -> None:
        """Return a picked candidate that could not be sent (e.g. AMI down): it keeps its place."""
        queue = self._actions.get(cand.action_id)
        if queue is not None and cand.attempt_id not in queue.ids:
            queue.ids.add(cand.attempt_id)
            heapq.heappush(queue.heap, cand)
