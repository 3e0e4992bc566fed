"""Classify Asterisk queue events (AMI) into what the dossier says about a caller. Pure.

Order from transcripts 08/09 (fact 6): answered = QueueCallerJoin -> AgentCalled -> DialEnd
ANSWER -> QueueCallerLeave -> AgentConnect (HoldTime, RingTime) -> AgentComplete (TalkTime,
Reason); abandoned = QueueCallerJoin -> AgentCalled -> DialEnd CANCEL x2 -> QueueCallerAbandon
(HoldTime) -> QueueCallerLeave, then Hangup Cause 0.  QueueCallerLeave comes *before*
AgentConnect, so "left the queue" alone says nothing about the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: AMI event name -> our kind.
_KINDS = {
    "QueueCallerJoin": "joined",
    "QueueCallerLeave": "left",
    "QueueCallerAbandon": "abandoned",
    "AgentConnect": "answered",
    "AgentComplete": "completed",
    "Hangup": "hangup",
}


@dataclass(frozen=True)
class QueueEvent:
    kind: str
    uniqueid: str
    queue: str = ""
    position: int | None = None
    hold_time_s: int | None = None
    ring_time_s: int | None = None
    talk_time_s: int | None = None
    #: AgentComplete: who hung up (caller/agent/transfer).
    reason: str = ""
    agent: str = ""


@dataclass(frozen=True)
class QueueOutcome:
    """What happened to one caller in the queue, folded from its events."""

    uniqueid: str
    outcome: str | None  # answered, abandoned, or None while undecided
    hold_time_s: int | None = None
    talk_time_s: int | None = None
    ended: bool = False


def classify_queue_event(event: Mapping[str, str]) -> QueueEvent | None:
    """The queue-relevant meaning of one AMI event, or None for everything else."""
    kind = _KINDS.get(event.get("Event", ""))
    uniqueid = event.get("Uniqueid", "")
    if kind is None or not uniqueid:
        return None
    return QueueEvent(
        kind=kind,
        uniqueid=uniqueid,
        queue=event.get("Queue", ""),
        position=_int(event.get("Position")),
        hold_time_s=_int(event.get("HoldTime")),
        ring_time_s=_int(event.get("RingTime")),
        talk_time_s=_int(event.get("TalkTime")),
        reason=event.get("Reason", ""),
        agent=event.get("MemberName", "") or event.get("Interface", ""),
    )


def fold_queue_events(uniqueid: str, events: Iterable[Mapping[str, str]]) -> QueueOutcome:
    """Fold the events of one caller (others are ignored) into its queue outcome."""
    state = QueueOutcome(uniqueid=uniqueid, outcome=None)
    for raw in events:
        event = classify_queue_event(raw)
        if event is not None and event.uniqueid == uniqueid:
            state = apply_queue_event(state, event)
    return state


def apply_queue_event(state: QueueOutcome, event: QueueEvent) -> QueueOutcome:
    """One step of the fold; the first decisive event (answered/abandoned) wins."""
    if event.kind in ("answered", "abandoned") and state.outcome is None:
        return QueueOutcome(
            uniqueid=state.uniqueid,
            outcome=event.kind,
            hold_time_s=event.hold_time_s,
            ended=state.ended or event.kind == "abandoned",
        )
    if event.kind == "completed":
        return QueueOutcome(
            uniqueid=state.uniqueid,
            outcome=state.outcome or "answered",
            hold_time_s=state.hold_time_s if state.hold_time_s is not None else event.hold_time_s,
            talk_time_s=event.talk_time_s,
            ended=True,
        )
    if event.kind == "hangup":
        return QueueOutcome(
            uniqueid=state.uniqueid,
            outcome=state.outcome,
            hold_time_s=state.hold_time_s,
            talk_time_s=state.talk_time_s,
            ended=True,
        )
    return state


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
