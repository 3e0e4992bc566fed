"""What the outbound menu changes in the store: reached, digits pressed, unsubscribe.

Each function is one small unit of work on the session it is given (no commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Result, select, update
from sqlalchemy.orm import Session

from engine.actions.models import Action, ActionTarget, CallAttempt, SmsMessage
from engine.actions.models_api import ActionMessage
from engine.ivr.caller_id import mask_number
from engine.ivr.inbound_calls import ACTOR, DossierAppend
from engine.participants import service as participants_service
from engine.participants.models import Participant, Phone
from engine.store.base import utcnow

log = logging.getLogger(__name__)

#: CallAttempt.dtmf is String(20): keep the most recent digits.
DTMF_MAX = 20


@dataclass(frozen=True)
class MenuCall:
    attempt_id: str
    action_id: str
    target_id: int
    participant_id: int | None
    e164: str
    #: Sound name/path of the message this call carries.
    message: str
    #: The action's alert, to try when the channel's MSG_FILE of an alert call does not play.
    fallback_message: str | None = None


def load_menu_call(
    session: Session,
    attempt_id: str,
    sound_for_action: Callable[[Action], str],
    channel_message: str | None = None,
) -> MenuCall | None:
    """The call behind an attempt id; the message is the channel's own (``MSG_FILE``, set by
    the dialer per attempt: alert, update or outcome) or else the action's rendered alert."""
    attempt = session.get(CallAttempt, attempt_id) if attempt_id else None
    if attempt is None:
        return None
    action = session.get(Action, attempt.action_id)
    target = session.get(ActionTarget, attempt.target_id)
    if action is None or target is None:
        return None
    own = _action_sound(_message_of(session, action, attempt.purpose), sound_for_action)
    message = channel_message or own
    if message is None:
        raise LookupError(f"no message to play for attempt {attempt.id}")
    # Only an alert call may fall back to the alert: an update must never replay old news.
    fallback = own if attempt.purpose == "alert" and own != message else None
    return MenuCall(
        attempt_id=attempt.id,
        action_id=action.id,
        target_id=target.id,
        participant_id=target.participant_id,
        e164=attempt.e164,
        message=message,
        fallback_message=fallback,
    )


def _message_of(session: Session, action: Action, purpose: str) -> Action:
    """The action as seen by a call of this purpose: update and outcome calls carry their own
    rendered message (``ActionMessage``), never the alert's."""
    if purpose == "alert":
        return action
    msg = session.get(ActionMessage, (action.id, purpose))
    return Action(id=action.id, audio_hash=msg.audio_hash if msg is not None else None)


def _action_sound(action: Action, sound_for_action: Callable[[Action], str]) -> str | None:
    try:
        return sound_for_action(action)
    except LookupError:
        return None


def record_heard(
    session: Session, call: MenuCall, *, interrupted: bool, append: DossierAppend
) -> None:
    """The participant heard the message (to its end, or until they pressed a menu key)."""
    now = utcnow()
    target = session.get(ActionTarget, call.target_id)
    if target is not None and target.reached_at is None:
        target.reached_at, target.reached_by = now, "voice"
    append(
        session,
        call.action_id,
        actor=ACTOR,
        kind="voice_message_heard",
        data={"attempt_id": call.attempt_id, "interrupted_by_key": interrupted},
        personal={"e164": call.e164},
    )


def record_choice(
    session: Session, call: MenuCall, digit: str | None, choice: str, *, append: DossierAppend
) -> None:
    if digit:
        attempt = session.get(CallAttempt, call.attempt_id)
        if attempt is not None:
            attempt.dtmf = (attempt.dtmf + digit)[-DTMF_MAX:]
    append(
        session,
        call.action_id,
        actor=ACTOR,
        kind="menu_choice",
        data={"attempt_id": call.attempt_id, "digit": digit or "", "choice": choice},
    )


def unsubscribe_participant(session: Session, call: MenuCall, *, append: DossierAppend) -> bool:
    """Key 9: no more Burgernet messages.  Queued calls/SMS to their numbers are cancelled.

    Returns False when the number belongs to no (active) participant.
    """
    participant = session.get(Participant, call.participant_id) if call.participant_id else None
    if participant is None or participant.status != "active":
        append(
            session,
            call.action_id,
            actor=ACTOR,
            kind="unsubscribe_requested",
            data={"attempt_id": call.attempt_id, "result": "no_active_participant"},
            personal={"e164": call.e164},
        )
        return False
    now = utcnow()
    participants_service.unsubscribe(session, participant.id)
    numbers = list(
        session.scalars(select(Phone.e164).where(Phone.participant_id == participant.id))
    )
    numbers = numbers or [call.e164]
    cancelled_calls = _rowcount(
        session.execute(
            update(CallAttempt)
            .where(CallAttempt.e164.in_(numbers), CallAttempt.state == "queued")
            .values(state="cancelled", outcome="unsubscribed", ended_at=now)
        )
    )
    cancelled_sms = _rowcount(
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.e164.in_(numbers), SmsMessage.state == "queued")
            .values(state="cancelled", error="unsubscribed")
        )
    )
    append(
        session,
        call.action_id,
        actor=ACTOR,
        kind="unsubscribed",  # same kind as an SMS STOP (engine.smpp.mo), channel tells apart
        data={
            "channel": "voice",
            "attempt_id": call.attempt_id,
            "participant_id": participant.id,
            "via": "voice_menu",
            "cancelled_calls": cancelled_calls,
            "cancelled_sms": cancelled_sms,
        },
        personal={"e164": call.e164},
    )
    log.info("participant %d unsubscribed by key 9 (%s)", participant.id, mask_number(call.e164))
    return True


def _rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
