"""Sending queued ``EmailMessage`` rows: one by ID (the RQ job) or a batch (``send_queued``).

Each send is three short transactions: claim the row (queued → sending), talk SMTP with no
transaction open (a slow relay never holds a database lock), record the result with its dossier
entry. A row that is not ``queued`` is left alone, so reruns never send twice.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import progress
from engine.actions.models import EmailMessage
from engine.mail import records
from engine.mail.compose import (
    Envelope,
    compose,
    mask,
    message_id,
    parse_address,
    parse_mailbox,
    unsubscribe_url,
)
from engine.mail.errors import InvalidAddress, MailConfigError
from engine.mail.ratelimit import RateLimiter, TokenBucket
from engine.mail.sender import SendResult, SmtpFactory, SmtpSender, TransportError
from engine.mail.settings import MailSettings
from engine.mail.unsubscribe import TokenFor, token_provider
from engine.participants.models import Participant
from engine.store.db import transaction

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, channel: str, message: str) -> Any: ...


@dataclass
class MailContext:
    """Everything a send needs besides the store and the connection, built once."""

    settings: MailSettings
    token_for: TokenFor
    limiter: RateLimiter
    progress: Publisher | None = None

    @classmethod
    def from_settings(
        cls,
        settings: MailSettings,
        *,
        limiter: RateLimiter | None = None,
        progress: Publisher | None = None,
        token_for: TokenFor | None = None,
    ) -> MailContext:
        """Validate the settings (fail fast, naming the key) and build the context."""
        try:
            parse_mailbox(settings.sender)
        except InvalidAddress as exc:
            raise MailConfigError(f"mail.sender is not a usable address: {exc.message}") from exc
        return cls(
            settings=settings,
            token_for=token_for or token_provider(settings),
            # Burst 1: no second-long window ever holds more than max_per_s (+1) messages.
            limiter=limiter or TokenBucket(settings.max_per_s, burst=1),
            progress=progress,
        )


@dataclass(frozen=True)
class _Prepared:
    message: MimeMessage
    envelope: Envelope
    action_id: str | None


def send_email(
    session_factory: sessionmaker[Session], ctx: MailContext, sender: SmtpSender, email_id: int
) -> str:
    """Send one queued row; returns the row's state afterwards.

    ``queued`` again means a temporary failure (4xx): the caller retries later. Raises
    :class:`TransportError` (row back to queued) when no connection could be had.
    """
    # Wait for the rate limit before claiming: a row is never left "sending" by a wait that
    # failed (Redis gone), and a wasted token for a row that turns out sent costs nothing.
    ctx.limiter.acquire()
    with transaction(session_factory) as session:
        row = records.claim(session, email_id)
        if row is None:
            return records.state_of(session, email_id) or "missing"
        action_id = row.action_id
        prepared = _prepare(session, ctx, row)
    if isinstance(prepared, str):
        _notify(ctx, action_id, prepared)
        return prepared
    try:
        result = sender.send(
            prepared.message,
            envelope_from=prepared.envelope.sender.addr_spec,
            recipient=prepared.envelope.recipient.addr_spec,
        )
    except TransportError as exc:
        with transaction(session_factory) as session:
            records.release(session, email_id, exc.message)
        raise
    with transaction(session_factory) as session:
        state = _record(session, email_id, result, prepared.envelope.message_id)
    log.info(
        "e-mail %s to %s: %s %s",
        email_id,
        mask(prepared.envelope.recipient.addr_spec),
        state,
        result.code or "",
    )
    _notify(ctx, prepared.action_id, state)
    return state


def _prepare(session: Session, ctx: MailContext, row: EmailMessage) -> _Prepared | str:
    """The message to send, or the final state when it must not or cannot be sent."""
    participant = session.get(Participant, row.participant_id)
    if participant is None or participant.status != "active" or not participant.email:
        records.mark_unsent(session, row, "cancelled", "participant unsubscribed or erased")
        return "cancelled"
    if participant.email != row.address:
        # They changed their address after the row was queued: their current one is the wish.
        row.address = participant.email
    try:
        return _build(ctx, row, participant.name)
    except InvalidAddress as exc:
        records.mark_unsent(session, row, "failed", exc.message)
        return "failed"


def _build(ctx: MailContext, row: EmailMessage, name: str) -> _Prepared:
    sender = parse_mailbox(ctx.settings.sender)
    recipient = parse_address(row.address, name)
    domain = ctx.settings.message_id_domain or sender.domain
    envelope = Envelope(sender, recipient, message_id(row.id, row.address, domain))
    message = compose(
        envelope,
        subject=row.subject,
        body_text=row.body_text,
        body_html_fragment=row.body_html,
        unsubscribe=unsubscribe_url(
            ctx.settings.unsubscribe_base_url, ctx.token_for(row.participant_id)
        ),
    )
    return _Prepared(message, envelope, row.action_id)


def _record(session: Session, email_id: int, result: SendResult, msg_id: str) -> str:
    row = session.get(EmailMessage, email_id, populate_existing=True)
    assert row is not None  # claimed by us a moment ago; rows are never deleted
    if result.outcome == "sent":
        records.mark_sent(session, row, msg_id)
        return "sent"
    detail = f"{result.code or '-'} {result.stage}: {result.detail}".strip()
    if result.outcome == "retry":
        records.release(session, email_id, detail)
        return "queued"
    records.mark_unsent(session, row, result.outcome, detail, result.code)
    return result.outcome


def _notify(ctx: MailContext, action_id: str | None, state: str) -> None:
    if action_id is not None:
        progress.publish(ctx.progress, action_id, {"kind": "email", "state": state})


@dataclass
class BatchReport:
    states: Counter[str] = field(default_factory=Counter)
    #: Why the batch stopped early (no connection), or None.
    stopped: str | None = None
    connections: int = 0

    @property
    def attempted(self) -> int:
        return sum(self.states.values())


def send_queued(
    session_factory: sessionmaker[Session],
    settings: MailSettings,
    *,
    limit: int = 500,
    ctx: MailContext | None = None,
    smtp_factory: SmtpFactory = smtplib.SMTP,
) -> BatchReport:
    """Send up to ``limit`` queued rows over one reused connection (newsletters, no RQ)."""
    ctx = ctx or MailContext.from_settings(settings)
    with session_factory() as session:
        ids = records.queued_ids(session, limit)
    report = BatchReport()
    with SmtpSender(settings, smtp_factory=smtp_factory) as sender:
        for email_id in ids:
            try:
                report.states[send_email(session_factory, ctx, sender, email_id)] += 1
            except TransportError as exc:
                # Every following row would fail the same way: stop, they stay queued.
                report.stopped = exc.message
                break
        report.connections = sender.connections
    return report
