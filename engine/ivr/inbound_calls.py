"""Inbound callbacks in the store: who called, for which action, what the queue did with them.

Synchronous SQLAlchemy; the AGI handler runs these in a worker thread.  Every function takes
the session of the caller's unit of work and never commits itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import Action, ActionTarget, CallAttempt, DossierEntry, InboundCall
from engine.ivr.caller_id import caller_display, mask_number
from engine.ivr.queue_events import QueueEvent, classify_queue_event
from engine.participants.models import Phone
from engine.store.base import utcnow

log = logging.getLogger(__name__)

DossierAppend = Callable[..., Any]
ACTOR = "ivr"
#: Queue priorities (Asterisk QUEUE_PRIO: higher is answered first).
PRIO_RUNNING = 10
PRIO_RECENT = 5
PRIO_UNKNOWN = 1
DEFAULT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class InboundDecision:
    """What the dialplan and the centralist get for one inbound call."""

    inbound_call_id: int
    action_id: str | None
    action_running: bool
    participant_id: int | None
    queue_prio: int
    display_name: str
    #: Other recent actions the caller was reached for (the centralist may ask).
    other_action_ids: tuple[str, ...] = ()


def _aware(at: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; they were stored as UTC.
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def find_participant_id(session: Session, e164: str | None) -> int | None:
    if not e164:
        return None
    return session.scalar(select(Phone.participant_id).where(Phone.e164 == e164))


def linked_actions(
    session: Session,
    e164: str | None,
    participant_id: int | None,
    *,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> list[Action]:
    """Actions this caller was selected for that are running or ended within ``window``.

    Order: running actions where the caller was reached, running ones where they were only
    selected (an SMS may be on its way), then recently closed ones; newest first within each.
    """
    if not e164 and participant_id is None:
        return []
    since = now - window
    recent = or_(
        Action.state == "running", and_(Action.state == "closed", Action.ended_at >= since)
    )
    base = (
        select(Action, ActionTarget)
        .join(ActionTarget, ActionTarget.action_id == Action.id)
        .where(recent)
    )
    # Indexed lookups (an OR of both would scan every target): participant_id has its own
    # index; (action_id, e164) is unique per action.  A known participant's targets include
    # this number; the number alone covers targets without a participant (imports).
    if participant_id is not None:
        stmt = base.where(ActionTarget.participant_id == participant_id)
    else:
        stmt = base.where(ActionTarget.e164 == e164)
    rows = session.execute(stmt).all()
    ranked: dict[str, tuple[tuple[int, float], Action]] = {}
    for action, target in rows:
        rank = _rank(action, target, since)
        if rank is None:
            continue
        best = ranked.get(action.id)
        if best is None or rank < best[0]:
            ranked[action.id] = (rank, action)
    return [action for _, action in sorted(ranked.values(), key=lambda item: item[0])]


def _rank(action: Action, target: ActionTarget, since: datetime) -> tuple[int, float] | None:
    reached = _aware(target.reached_at)
    recent_reach = reached is not None and reached >= since
    newest = reached or _aware(action.started_at) or _aware(action.created_at) or since
    if action.state == "running":
        return (0 if recent_reach else 1, -newest.timestamp())
    ended = _aware(action.ended_at)
    if recent_reach and ended is not None and ended >= since:
        return (2, -newest.timestamp())
    return None


def start_inbound_call(
    session: Session,
    *,
    uniqueid: str,
    caller: str | None,
    now: datetime | None = None,
    window: timedelta = DEFAULT_WINDOW,
    append: DossierAppend = dossier.append,
) -> InboundDecision:
    """Record the call, link it to the caller's most relevant recent action, decide priority."""
    now = now or utcnow()
    participant_id = find_participant_id(session, caller)
    actions = linked_actions(session, caller, participant_id, now=now, window=window)
    action = actions[0] if actions else None
    running = action is not None and action.state == "running"
    prio = PRIO_RUNNING if running else PRIO_RECENT if action is not None else PRIO_UNKNOWN
    call = _upsert_call(session, uniqueid)
    call.caller_e164 = caller
    call.participant_id = participant_id
    call.action_id = action.id if action else None
    call.started_at = now
    session.flush()
    decision = InboundDecision(
        inbound_call_id=call.id,
        action_id=call.action_id,
        action_running=running,
        participant_id=participant_id,
        queue_prio=prio,
        display_name=caller_display(call.action_id, caller),
        other_action_ids=tuple(a.id for a in actions[1:]),
    )
    if action is not None:
        append(
            session,
            action.id,
            actor=ACTOR,
            kind="inbound_call",
            data={
                "inbound_call_id": call.id,
                "uniqueid": uniqueid,
                "participant_id": participant_id,
                "queue_prio": prio,
                "action_running": running,
                "other_actions": list(decision.other_action_ids),
            },
            personal={"caller": caller} if caller else None,
        )
    log.info(
        "inbound call %s from %s -> action %s prio %d",
        uniqueid,
        mask_number(caller),
        call.action_id,
        prio,
    )
    return decision


def _upsert_call(session: Session, uniqueid: str) -> InboundCall:
    call = session.scalar(select(InboundCall).where(InboundCall.uniqueid == uniqueid))
    if call is None:
        call = InboundCall(uniqueid=uniqueid)
        session.add(call)
    return call


def mark_hung_up(session: Session, uniqueid: str, *, now: datetime | None = None) -> None:
    """The caller hung up in the IVR, before reaching the queue."""
    call = session.scalar(select(InboundCall).where(InboundCall.uniqueid == uniqueid))
    if call is not None and call.ended_at is None:
        call.ended_at = now or utcnow()
        call.outcome = call.outcome or "hung_up_in_ivr"


def record_queue_event(
    session: Session,
    event: dict[str, str],
    *,
    now: datetime | None = None,
    append: DossierAppend = dossier.append,
) -> QueueEvent | None:
    """Apply one AMI queue event (QueueCallerJoin/Abandon, AgentConnect/Complete, Hangup).

    Correlated by ``Uniqueid``: an :class:`InboundCall`, or a :class:`CallAttempt` whose
    participant pressed 2 in the outbound menu (its Uniqueid is the ChannelId = attempt id).
    Returns the classified event when it belonged to one of ours, else None.
    """
    qe = classify_queue_event(event)
    if qe is None:
        return None
    now = now or utcnow()
    call = session.scalar(select(InboundCall).where(InboundCall.uniqueid == qe.uniqueid))
    if call is not None:
        _apply_to_inbound(session, call, qe, now, append)
        return qe
    attempt = session.get(CallAttempt, qe.uniqueid)
    if attempt is not None and qe.kind in ("joined", "answered", "abandoned"):
        _apply_to_attempt(session, attempt, qe, append)
        return qe
    return None


def _apply_to_inbound(
    session: Session, call: InboundCall, qe: QueueEvent, now: datetime, append: DossierAppend
) -> None:
    # Idempotent: the dialer retries a batch whose write failed, so an event may come twice.
    if not _update_inbound(call, qe, now):
        return
    if call.action_id is not None and qe.kind != "hangup":
        append(
            session,
            call.action_id,
            actor=ACTOR,
            kind=f"inbound_call_{qe.kind}",
            data={"inbound_call_id": call.id, **_queue_data(qe)},
        )
    session.flush()


def _update_inbound(call: InboundCall, qe: QueueEvent, now: datetime) -> bool:
    """Apply the event to the row; False when it changes nothing (seen before, or too late)."""
    if qe.kind == "joined" and call.queued_at is None:
        call.queued_at = now
    elif qe.kind == "answered" and call.outcome is None:
        call.answered_at, call.outcome = now, "answered"
    elif qe.kind == "abandoned" and call.outcome is None:
        call.outcome, call.ended_at = "abandoned", now
    elif qe.kind in ("completed", "hangup") and call.ended_at is None:
        call.ended_at = now
    else:
        return False
    return True


def _apply_to_attempt(
    session: Session, attempt: CallAttempt, qe: QueueEvent, append: DossierAppend
) -> None:
    kind = f"menu_queue_{qe.kind}"
    seen = session.scalars(
        select(DossierEntry.data).where(
            DossierEntry.action_id == attempt.action_id, DossierEntry.kind == kind
        )
    )
    if any(data.get("attempt_id") == attempt.id for data in seen):
        return
    append(
        session,
        attempt.action_id,
        actor=ACTOR,
        kind=kind,
        data={"attempt_id": attempt.id, **_queue_data(qe)},
    )


def _queue_data(qe: QueueEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"queue": qe.queue}
    for name in ("position", "hold_time_s", "ring_time_s", "talk_time_s"):
        value = getattr(qe, name)
        if value is not None:
            data[name] = value
    if qe.reason:
        data["ended_by"] = qe.reason
    return data
