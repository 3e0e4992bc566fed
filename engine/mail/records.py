"""State changes of ``EmailMessage`` rows, each with its dossier entry.

States: ``queued`` → ``sending`` (claimed) → ``sent`` | ``failed`` | ``bounced`` | ``uncertain``;
``queued`` → ``cancelled`` (participant unsubscribed meanwhile); ``sent`` → ``bounced`` (DSN).
While a row is ``sending`` or ``uncertain``, ``sent_at`` holds the time of the attempt.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import EmailMessage
from engine.errors import NotFound
from engine.mail.compose import digest_matches, email_id_from_message_id
from engine.mail.dsn import scrub_addresses
from engine.store.base import utcnow

ACTOR = "mail"
#: Rows in these states are never sent again by the engine on its own.
FINAL_STATES = ("sent", "failed", "bounced", "uncertain", "cancelled")


def claim(session: Session, email_id: int) -> EmailMessage | None:
    """Take a queued row for sending; None when it is not queued (already sent, or taken).

    The conditional UPDATE is the lock: of two workers given the same ID only one gets
    rowcount 1, so a message is never put on the wire twice by a rerun job.
    """
    result = session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == email_id, EmailMessage.state == "queued")
        .values(state="sending", sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.get(EmailMessage, email_id, populate_existing=True)


def state_of(session: Session, email_id: int) -> str | None:
    return session.scalar(select(EmailMessage.state).where(EmailMessage.id == email_id))


def release(session: Session, email_id: int, error: str) -> None:
    """Back to ``queued`` after a failure that delivered nothing (a later try may work)."""
    session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == email_id, EmailMessage.state == "sending")
        .values(state="queued", sent_at=None, error=error[:300])
        .execution_options(synchronize_session=False)
    )


def mark_sent(session: Session, row: EmailMessage, message_id: str) -> None:
    row.state = "sent"
    row.sent_at = utcnow()
    row.error = None
    _dossier(session, row, "email_sent", {"message_id": message_id})


def mark_unsent(
    session: Session, row: EmailMessage, state: str, error: str, code: int | None = None
) -> None:
    """Final failure: ``failed``, ``bounced``, ``uncertain`` or ``cancelled``."""
    row.state = state
    row.error = error[:300]
    if state != "uncertain":
        row.sent_at = None
    _dossier(session, row, "email_failed", {"state": state, "code": code, "reason": error[:200]})


def record_bounce(session: Session, ref: int | str, reason: str) -> EmailMessage:
    """Mark a message bounced, e.g. from a DSN; ``ref`` is our row ID or our Message-ID.

    A Message-ID must carry the digest we gave that row, so a made-up ID is refused.
    """
    email_id = ref if isinstance(ref, int) else email_id_from_message_id(ref)
    row = session.get(EmailMessage, email_id) if email_id is not None else None
    if row is None or (isinstance(ref, str) and not digest_matches(ref, row.id, row.address)):
        raise NotFound(f"no e-mail message matches {ref!r}", code="email_not_found")
    if row.state == "bounced":
        return row
    reason = scrub_addresses(reason)
    row.state = "bounced"
    row.error = f"bounce: {reason}"[:300]
    _dossier(session, row, "email_bounced", {"reason": reason[:200]})
    return row


def mark_stale_uncertain(session: Session, older_than: timedelta) -> list[int]:
    """Rows left ``sending`` by a worker that died: the relay may have the message, so they
    become ``uncertain`` (an operator decides with ``bnet mail requeue``)."""
    cutoff = utcnow() - older_than
    rows = session.scalars(
        select(EmailMessage).where(
            EmailMessage.state == "sending",
            or_(EmailMessage.sent_at < cutoff, EmailMessage.sent_at.is_(None)),
        )
    ).all()
    for row in rows:
        mark_unsent(session, row, "uncertain", "worker stopped during sending")
    return [row.id for row in rows]


def requeue(session: Session, email_id: int, actor: str) -> bool:
    """An operator's decision to send an ``uncertain`` or ``failed`` row again."""
    row = session.get(EmailMessage, email_id)
    if row is None:
        raise NotFound(f"no e-mail message {email_id}", code="email_not_found")
    if row.state not in ("uncertain", "failed"):
        return False
    row.state = "queued"
    row.sent_at = None
    if row.action_id is not None:
        dossier.append(
            session,
            row.action_id,
            actor=actor,
            kind="email_requeued",
            data={"email_id": row.id, "purpose": row.purpose},
        )
    return True


def queued_ids(session: Session, limit: int) -> list[int]:
    stmt = select(EmailMessage.id).where(EmailMessage.state == "queued")
    return list(session.scalars(stmt.order_by(EmailMessage.id).limit(limit)))


def _dossier(session: Session, row: EmailMessage, kind: str, extra: dict[str, Any]) -> None:
    if row.action_id is None:
        return  # newsletters belong to no action
    data = {"email_id": row.id, "purpose": row.purpose, **extra}
    dossier.append(
        session, row.action_id, actor=ACTOR, kind=kind, data=data, personal={"address": row.address}
    )
