"""``bnet mail``: send queued e-mail, test the relay, and the operator's repair commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import EmailMessage
from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.mail import records
from engine.mail.compose import Envelope, compose, parse_address, parse_mailbox, unsubscribe_url
from engine.mail.dsn import parse_dsn
from engine.mail.sender import SmtpSender
from engine.mail.service import send_queued
from engine.store.db import make_engine, make_sessionmaker, transaction

TEST_BODY = (
    "Dit is een testbericht van de Burgernet-engine.\n\n"
    "Komt dit bericht aan, dan werkt het versturen van e-mail."
)


def register(sub: Any) -> None:
    mail = sub.add_parser("mail", help="e-mail to participants").add_subparsers(
        dest="mail_cmd", required=True
    )
    p = mail.add_parser("send-queued", help="send queued e-mail over one connection")
    p.add_argument("--limit", type=int, default=500, help="at most this many (default 500)")
    p.set_defaults(handler=_send_queued)
    p = mail.add_parser("test", help="send a test message to check the SMTP settings")
    p.add_argument("--to", required=True, help="recipient address")
    p.set_defaults(handler=_test)
    p = mail.add_parser("status", help="count e-mail per state")
    p.set_defaults(handler=_status)
    p = mail.add_parser("recover", help="mark e-mail left 'sending' by a dead worker uncertain")
    p.add_argument("--older-than-s", type=int, default=900)
    p.set_defaults(handler=_recover)
    p = mail.add_parser("requeue", help="send an uncertain or failed e-mail again")
    p.add_argument("email_id", type=int)
    p.set_defaults(handler=_requeue)
    p = mail.add_parser("bounce", help="record a bounce: from a DSN file, or by ID/Message-ID")
    p.add_argument("ref", nargs="?", help="e-mail row ID or the Message-ID of the bounced message")
    p.add_argument("--reason", help="why it bounced (with REF)")
    p.add_argument("--dsn", type=Path, help="a delivery status notification (.eml) to read")
    p.set_defaults(handler=_bounce)


@contextmanager
def _store(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.store.url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _send_queued(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as factory:
        try:
            report = send_queued(factory, settings.mail, limit=args.limit)
        except EngineError as exc:
            raise CliError(exc.message) from exc
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report.states.items())) or "nothing"
    print(f"e-mail: {counts} ({report.connections} connection(s))")
    if report.stopped:
        raise CliError(f"stopped early, the rest stays queued: {report.stopped}")
    return 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    s = settings.mail
    try:
        sender = parse_mailbox(s.sender)
        recipient = parse_address(args.to)
        msg_id = make_msgid(domain=s.message_id_domain or sender.domain)
        msg = compose(
            Envelope(sender, recipient, msg_id),
            subject="Burgernet: testbericht",
            body_text=TEST_BODY,
            unsubscribe=unsubscribe_url(s.unsubscribe_base_url, "test"),
        )
        with SmtpSender(s) as smtp:
            result = smtp.send(msg, envelope_from=sender.addr_spec, recipient=recipient.addr_spec)
    except EngineError as exc:
        raise CliError(exc.message) from exc
    print(f"{result.outcome}: {result.code or '-'} {result.stage} {result.detail}".rstrip())
    return 0 if result.outcome == "sent" else 1


def _status(_args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as factory, factory() as session:
        rows = session.execute(
            select(EmailMessage.state, func.count()).group_by(EmailMessage.state)
        ).all()
    for state, n in sorted(rows):
        print(f"{state:10} {n}")
    return 0


def _recover(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as factory, transaction(factory) as session:
        ids = records.mark_stale_uncertain(session, timedelta(seconds=args.older_than_s))
    print(f"{len(ids)} e-mail(s) marked uncertain" + (f": {ids}" if ids else ""))
    return 0


def _requeue(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as factory:
        try:
            with transaction(factory) as session:
                done = records.requeue(session, args.email_id, actor="cli")
        except EngineError as exc:
            raise CliError(exc.message) from exc
    if not done:
        raise CliError(f"e-mail {args.email_id} is not uncertain or failed; left as it is")
    print(f"e-mail {args.email_id} queued again")
    return 0


def _bounce(args: argparse.Namespace, settings: Settings) -> int:
    ref, reason = _bounce_source(args)
    with _store(settings) as factory:
        try:
            with transaction(factory) as session:
                row = records.record_bounce(session, ref, reason)
                email_id = row.id
        except EngineError as exc:
            raise CliError(exc.message) from exc
    print(f"e-mail {email_id} recorded as bounced")
    return 0


def _bounce_source(args: argparse.Namespace) -> tuple[int | str, str]:
    if args.dsn is not None:
        try:
            bounce = parse_dsn(args.dsn.read_bytes())
        except OSError as exc:
            raise CliError(f"cannot read {args.dsn}: {exc.strerror}") from exc
        if bounce is None:
            raise CliError(f"{args.dsn} is no delivery status notification with a failure")
        return bounce.message_id, bounce.reason
    if not args.ref or not args.reason:
        raise CliError("give --dsn FILE, or REF with --reason")
    return (int(args.ref) if args.ref.isdigit() else args.ref), args.reason
