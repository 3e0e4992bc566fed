"""What travels between the SMS service and the binds: jobs in (a JobQueue), events out."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.smpp.encoding import Segment
from engine.smpp.protocol import Receipt


@dataclass(slots=True, eq=False)
class SubmitJob:
    """One SmsMessage on its way out; a bind fills in the SMSC message id of each segment."""

    sms_id: int
    destination: str  # E.164
    segments: list[Segment]
    action_id: str | None = None
    message_ids: list[str | None] = field(default_factory=list)
    #: Segment indexes still to send (a throttled one goes back in).
    todo: list[int] = field(default_factory=list)
    unanswered: int = 0  # segments sent whose response has not come
    attempts: int = 0  # sends that got a temporary error
    cancelled: bool = False
    finished: bool = False

    def __post_init__(self) -> None:
        if not self.message_ids:
            self.message_ids = [None] * len(self.segments)
        if not self.todo:
            self.todo = [i for i, m in enumerate(self.message_ids) if m is None]

    @property
    def untouched(self) -> bool:
        """No segment has left this process: dropping or moving it cannot duplicate an SMS."""
        return self.unanswered == 0 and all(m is None for m in self.message_ids)

    @property
    def complete(self) -> bool:
        return (
            not self.todo and self.unanswered == 0 and all(m is not None for m in self.message_ids)
        )


Ack = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Submitted:
    smsc: str
    job: SubmitJob


@dataclass(frozen=True, slots=True)
class SegmentAccepted:
    """One part of a multi-part SMS was accepted: its receipt may come before the rest are."""

    smsc: str
    job: SubmitJob
    index: int
    message_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    smsc: str
    job: SubmitJob
    status: int
    permanent: bool


@dataclass(frozen=True, slots=True)
class Uncertain:
    """Segments were sent but the bind died before the SMSC answered."""

    smsc: str
    job: SubmitJob
    reason: str


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A cancelled job a bind dropped before sending any segment of it."""

    smsc: str
    job: SubmitJob


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    smsc: str
    receipt: Receipt
    ack: Ack


@dataclass(frozen=True, slots=True)
class MoMessage:
    smsc: str
    source: str  # as the SMSC sent it (digits, maybe without '+')
    text: str
    ack: Ack
    #: (reference, total, number) when this is one part of a concatenated message.
    part: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class BindState:
    smsc: str
    bind_no: int
    state: str  # connecting, bound, down, refused, stopped
    detail: str = ""


Event = (
    Submitted
    | SegmentAccepted
    | Rejected
    | Uncertain
    | Withdrawn
    | DeliveryReport
    | MoMessage
    | BindState
)


class JobQueue:
    """Jobs waiting for any bind of one SMSC; a job a dead bind never sent goes back in front."""

    def __init__(self) -> None:
        self._items: deque[SubmitJob] = deque()
        self._lock = threading.Lock()

    def push(self, job: SubmitJob) -> None:
        with self._lock:
            self._items.append(job)

    def push_front(self, job: SubmitJob) -> None:
        with self._lock:
            self._items.appendleft(job)

    def pop(self) -> SubmitJob | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def drain(self) -> list[SubmitJob]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items

    def snapshot(self) -> list[SubmitJob]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)
