"""Mobile-originated SMS: STOP unsubscribes (with a Dutch confirmation), anything else is a tip.

A tip goes into the dossier of the latest action that reached the sender's number and is
announced on that action's progress channel, so the centralist sees it at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import ActionTarget, SmsMessage
from engine.participants.models import Participant, Phone
from engine.smpp.encoding import sanitize_text
from engine.smpp.protocol import is_stop_request
from engine.store.base import utcnow
from engine.textsafe import mask_phone

log = logging.getLogger(__name__)

CONFIRM_TEXT = (
    "Burgernet: u bent afgemeld en ontvangt geen berichten van Burgernet meer. "
    "Weer aanmelden kan via burgernet.nl."
)
#: A second STOP within this window gets no second confirmation.
CONFIRM_QUIET = timedelta(hours=1)
TIP_MAX_CHARS = 2000


class MoAssembler:
    """Joins the parts of a concatenated incoming SMS (pure; the caller passes the clock).

    Parts are acknowledged as they come (holding them could stall an SMSC that waits for each
    deliver_sm_resp); a message still incomplete after the timeout is taken as it is.
    """

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str, int], tuple[float, int, dict[int, str]]] = {}

    def add(
        self, smsc: str, source: str, part: tuple[int, int, int], text: str, now: float
    ) -> str | None:
        ref, total, number = part
        key = (smsc, source, ref)
        started, _, parts = self._parts.get(key, (now, total, {}))
        parts[number] = text
        if len(parts) >= total:
            self._parts.pop(key, None)
            return "".join(parts[n] for n in sorted(parts))
        self._parts[key] = (started, total, parts)
        return None

    def expire(self, max_age_s: float, now: float) -> list[tuple[str, str, str]]:
        """(smsc, source, text so far) of messages whose missing parts never came."""
        out = []
        for key, (started, _total, parts) in list(self._parts.items()):
            if now - started > max_age_s:
                del self._parts[key]
                out.append((key[0], key[1], " … ".join(parts[n] for n in sorted(parts))))
        return out


def sender_e164(source: str, region: str = "NL") -> str | None:
    """The SMSC sends digits (international without '+', sometimes national): make E.164."""
    raw = source.strip()
    candidates = [raw] if raw.startswith("+") else ["+" + raw, raw]
    for candidate in candidates:
        try:
            num = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


def handle_mo(session: Session, *, source: str, text: str, smsc: str) -> tuple[str, str | None]:
    """Act on one incoming SMS: (stop | tip | ignored, the action it concerns).

    The caller announces a tip on the action's progress channel after committing, so the
    centralist's screen, which recounts from the store, already finds it.
    """
    e164 = sender_e164(source)
    if e164 is None:
        log.warning("MO from unreadable sender via %s ignored", smsc)
        return "ignored", None
    if is_stop_request(text):
        return "stop", _unsubscribe(session, e164)
    action_id = latest_action(session, e164)
    if action_id is None:
        log.info("MO from %s without any action: not a tip", mask_phone(e164))
        return "ignored", None
    participant_id = session.scalar(select(Phone.participant_id).where(Phone.e164 == e164))
    tip = sanitize_text(text)[:TIP_MAX_CHARS]
    dossier.append(
        session,
        action_id,
        actor="sms",
        kind="tip",
        data={"channel": "sms", "text": tip, "participant_id": participant_id},
        personal={"e164": e164},
    )
    return "tip", action_id


def latest_action(session: Session, e164: str) -> str | None:
    return session.scalar(
        select(ActionTarget.action_id)
        .where(ActionTarget.e164 == e164)
        .order_by(ActionTarget.id.desc())
        .limit(1)
    )


def _unsubscribe(session: Session, e164: str) -> str | None:
    now = utcnow()
    participant = session.scalar(
        select(Participant)
        .join(Phone, Phone.participant_id == Participant.id)
        .where(Phone.e164 == e164)
    )
    if participant is not None and participant.status == "active":
        participant.status, participant.unsubscribed_at = "unsubscribed", now
    action_id = latest_action(session, e164)
    if action_id is not None:
        dossier.append(
            session,
            action_id,
            actor="sms",
            kind="unsubscribed",
            data={"channel": "sms", "participant_id": participant and participant.id},
            personal={"e164": e164},
        )
    recent = session.scalar(
        select(SmsMessage.id).where(
            SmsMessage.e164 == e164,
            SmsMessage.purpose == "confirm",
            SmsMessage.created_at >= now - CONFIRM_QUIET,
        )
    )
    if recent is None:
        session.add(
            SmsMessage(e164=e164, purpose="confirm", text=CONFIRM_TEXT, priority=95, state="queued")
        )
    session.flush()
    return action_id
