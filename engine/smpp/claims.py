"""Exactly-once claiming of SmsMessage rows, and recovery after a crash.

A row moves queued -> submitting with one conditional UPDATE carrying a claim token
(``<node>:<random>``), so two senders can never both take it. After a crash, rows still
"submitting" under this node's name are marked "uncertain" (they may have reached the SMSC)
instead of being resent blindly; ``resend_uncertain = "after_expiry"`` queues them again only
after the expiry passed without a delivery report.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import SmsMessage
from engine.errors import InvalidInput
from engine.participants.models import Participant, Phone
from engine.store.base import utcnow


class NotMobile(InvalidInput):
    code = "sms_not_mobile"


def check_mobile(e164: str) -> None:
    """SMS only to mobile numbers: a landline or service number gets a clear refusal."""
    try:
        num = phonenumbers.parse(e164, "NL")
    except phonenumbers.NumberParseException as exc:
        raise NotMobile(f"not a phone number ({exc}); SMS only to mobile numbers") from exc
    if not phonenumbers.is_valid_number(num):
        raise NotMobile("not a valid phone number; SMS only to mobile numbers")
    kind = phonenumbers.number_type(num)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE,):
        raise NotMobile("SMS only to mobile numbers; this number is not a mobile number")


def claim(session: Session, node: str, limit: int) -> list[SmsMessage]:
    """Take up to ``limit`` queued rows (highest priority first, then oldest) for this node."""
    if limit <= 0:
        return []
    token = f"{node}:{secrets.token_hex(4)}"
    ids = session.scalars(
        select(SmsMessage.id)
        .where(SmsMessage.state == "queued")
        .order_by(SmsMessage.priority.desc(), SmsMessage.id)
        .limit(limit)
    ).all()
    if not ids:
        return []
    session.execute(
        update(SmsMessage)
        .where(SmsMessage.id.in_(ids), SmsMessage.state == "queued")
        .values(state="submitting", claimed_by=token)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(SmsMessage)
            .where(SmsMessage.claimed_by == token, SmsMessage.state == "submitting")
            .order_by(SmsMessage.priority.desc(), SmsMessage.id)
        )
    )


def drop_unsubscribed(session: Session, rows: list[SmsMessage]) -> list[SmsMessage]:
    """Cancel claimed SMS to numbers whose participant unsubscribed after they were queued.

    A STOP reply may arrive between fan-out and sending; nobody gets a message after that.
    The confirmation of the STOP itself is the one exception.
    """
    numbers = {row.e164 for row in rows if row.purpose != "confirm"}
    if not numbers:
        return rows
    gone = set(
        session.scalars(
            select(Phone.e164)
            .join(Participant, Participant.id == Phone.participant_id)
            .where(Phone.e164.in_(numbers), Participant.status != "active")
        )
    )
    kept = []
    for row in rows:
        if row.e164 in gone and row.purpose != "confirm":
            row.state, row.error = "cancelled", "participant unsubscribed before sending"
            if row.action_id is not None:
                dossier.append(
                    session,
                    row.action_id,
                    actor="smpp",
                    kind="sms_cancelled",
                    data={"sms_id": row.id, "purpose": row.purpose, "reason": "unsubscribed"},
                    personal={"e164": row.e164},
                )
        else:
            kept.append(row)
    return kept


def release(session: Session, sms_ids: list[int]) -> int:
    """Give back rows no bind has touched (clean shutdown, all SMSCs down)."""
    if not sms_ids:
        return 0
    result = session.execute(
        update(SmsMessage)
        .where(SmsMessage.id.in_(sms_ids), SmsMessage.state == "submitting")
        .values(state="queued", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def recover(session: Session, node: str) -> int:
    """Rows this node had in flight when it died become uncertain, with a dossier entry."""
    rows = session.scalars(
        select(SmsMessage).where(
            SmsMessage.state == "submitting", SmsMessage.claimed_by.like(f"{node}:%")
        )
    ).all()
    for row in rows:
        row.state, row.submitted_at = "uncertain", utcnow()
        row.error = "sender stopped while this SMS was in flight; not resent blindly"
        if row.action_id is not None:
            dossier.append(
                session,
                row.action_id,
                actor="smpp",
                kind="sms_uncertain",
                data={"sms_id": row.id, "purpose": row.purpose, "reason": "sender restart"},
                personal={"e164": row.e164},
            )
    return len(rows)


def resend_expired_uncertain(session: Session, expiry_s: float) -> int:
    """Queue again uncertain SMS that got no delivery report within the expiry."""
    cutoff = utcnow() - timedelta(seconds=expiry_s)
    rows = session.scalars(
        select(SmsMessage).where(
            SmsMessage.state == "uncertain",
            SmsMessage.dlr_status.is_(None),
            SmsMessage.submitted_at < cutoff,
        )
    ).all()
    for row in rows:
        row.state, row.claimed_by = "queued", None
        row.error = "queued again: no delivery report within the uncertainty expiry"
        if row.action_id is not None:
            dossier.append(
                session,
                row.action_id,
                actor="smpp",
                kind="sms_resend",
                data={"sms_id": row.id, "rule": "after_expiry", "expiry_s": expiry_s},
                personal={"e164": row.e164},
            )
    return len(rows)


def mark_failed(session: Session, row: SmsMessage, error: str) -> None:
    row.state, row.error = "failed", error[:200]
    if row.action_id is not None:
        dossier.append(
            session,
            row.action_id,
            actor="smpp",
            kind="sms_failed",
            data={"sms_id": row.id, "purpose": row.purpose, "error": error[:200]},
            personal={"e164": row.e164},
        )
