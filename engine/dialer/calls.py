"""Calls in progress on this node: routing AMI events to their attempt, and named timers.

No I/O: the service feeds events and the clock in and carries out the effects that come out.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from engine.dialer.attempt_fsm import AttemptMachine
from engine.dialer.call_events import EventLike, Signal, candidate_ids, signal_from_event
from engine.dialer.planner import Candidate
from engine.dialer.trunks import Lease

__all__ = ["Call", "CallTable"]


@dataclass(slots=True)
class Call:
    cand: Candidate
    lease: Lease
    machine: AttemptMachine
    started: float  # monotonic
    originate_action_id: str | None = None
    channel: str | None = None  # the channel name, needed to hang up
    hangup_wanted: bool = False  # asked to hang up before the channel name was known
    answered_mono: float | None = None
    answered_at: datetime | None = None
    scheduled: set[tuple[str, float]] = field(default_factory=set)

    @property
    def attempt_id(self) -> str:
        return self.cand.attempt_id

    @property
    def server(self) -> str:
        return self.lease.server


class CallTable:
    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._by_action_id: dict[str, str] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self.calls.values()))

    def add(self, call: Call) -> None:
        self.calls[call.attempt_id] = call

    def remember_action_id(self, call: Call, action_id: str) -> None:
        call.originate_action_id = action_id
        self._by_action_id[action_id] = call.attempt_id

    def remove(self, call: Call) -> None:
        self.calls.pop(call.attempt_id, None)
        if call.originate_action_id:
            self._by_action_id.pop(call.originate_action_id, None)

    def of_action(self, action_id: str) -> list[Call]:
        return [c for c in self.calls.values() if c.cand.action_id == action_id]

    def of_server(self, server: str) -> list[Call]:
        return [c for c in self.calls.values() if c.server == server]

    # -- events -------------------------------------------------------------------------------
    def route(self, event: EventLike) -> tuple[Call, Signal] | None:
        """The call an event belongs to and what it says; learns channel names on the way."""
        call = self._find(event)
        if call is None:
            return None
        self._learn_channel(call, event)
        signal = signal_from_event(event, call.attempt_id)
        return (call, signal) if signal is not None else None

    def _find(self, event: EventLike) -> Call | None:
        action_id = event.get("ActionID")
        if action_id and action_id in self._by_action_id:
            return self.calls.get(self._by_action_id[action_id])
        for cid in candidate_ids(event):
            call = self.calls.get(cid)
            if call is not None:
                return call
        return None

    @staticmethod
    def _learn_channel(call: Call, event: EventLike) -> None:
        # OriginateResponse names the dial string on failure (fact 1): not a channel.
        if (event.get("Event") or "").lower() == "originateresponse":
            return
        if event.get("Uniqueid") == call.attempt_id and event.get("Channel"):
            call.channel = event.get("Channel")

    # -- timers -------------------------------------------------------------------------------
    def schedule(self, call: Call) -> None:
        for name, deadline in call.machine.timers.items():
            if (name, deadline) not in call.scheduled:
                call.scheduled.add((name, deadline))
                heapq.heappush(self._timers, (deadline, next(self._seq), call.attempt_id, name))

    def due(self, now: float) -> list[tuple[Call, str]]:
        """Timers that expired; stale entries (stopped or restarted timers) are dropped."""
        out: list[tuple[Call, str]] = []
        while self._timers and self._timers[0][0] <= now:
            deadline, _, attempt_id, name = heapq.heappop(self._timers)
            call = self.calls.get(attempt_id)
            if call is None:
                continue
            call.scheduled.discard((name, deadline))
            if call.machine.timers.get(name) == deadline:
                out.append((call, name))
        return out

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None
