"""E-mail against a real SMTP server (aiosmtpd on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import DossierEntry, EmailMessage
from engine.errors import NotFound
from engine.mail.ratelimit import TokenBucket
from engine.mail.records import record_bounce
from engine.mail.sender import SmtpSender, TransportError
from engine.mail.service import MailContext, send_email, send_queued
from engine.mail.unsubscribe import participant_id_from_token
from engine.participants.models import Participant
from engine.store.db import transaction
from tests.mail_support import (
    ACTION_ID,
    PASSWORD,
    SECRET,
    USER,
    CollectingHandler,
    SmtpServer,
    add_action,
    add_email,
    smtp_server,
    state,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    add_action(session_factory)
    return session_factory


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as srv:
        yield srv


def _entries(factory: sessionmaker[Session], kind: str) -> list[DossierEntry]:
    with factory() as session:
        return list(
            session.scalars(
                select(DossierEntry).where(DossierEntry.kind == kind).order_by(DossierEntry.seq)
            )
        )


def test_batch_sends_plain_and_html_with_unsubscribe_over_one_connection(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    ids = [add_email(store, f"deelnemer{i}@example.nl") for i in range(3)]
    report = send_queued(store, server.settings())
    assert report.states == {"sent": 3}
    assert report.connections == 1
    assert [state(store, i)[0] for i in ids] == ["sent"] * 3
    got = server.handler.to("deelnemer1@example.nl")
    assert len(got) == 1 and got[0].mail_from == "noreply@burgernet.example"
    msg = got[0].message()
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and "De verdachte is aangehouden." in plain.get_content()
    assert html is not None and "<p>De verdachte is aangehouden." in html.get_content()
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip().strip("<>")
    token = url.split("token=", 1)[1]
    with store() as session:
        row = session.get(EmailMessage, ids[1])
        assert row is not None
        assert participant_id_from_token(SECRET, token) == row.participant_id


def test_sent_messages_are_in_the_dossier_without_the_address_in_the_chain(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    email_id = add_email(store, "piet@example.nl")
    send_queued(store, server.settings())
    [entry] = _entries(store, "email_sent")
    assert entry.actor == "mail" and entry.data["email_id"] == email_id
    assert entry.personal == {"address": "piet@example.nl"}
    assert "piet" not in str(entry.data)
    with store() as session:
        assert dossier.verify(session, ACTION_ID).ok


def test_rerun_never_sends_twice(store: sessionmaker[Session], server: SmtpServer) -> None:
    email_id = add_email(store, "klaas@example.nl")
    settings = server.settings()
    ctx = MailContext.from_settings(settings)
    with SmtpSender(settings) as sender:
        assert send_email(store, ctx, sender, email_id) == "sent"
        assert send_email(store, ctx, sender, email_id) == "sent"
    assert send_queued(store, settings).attempted == 0
    assert len(server.handler.received) == 1
    assert len(_entries(store, "email_sent")) == 1


def test_refused_and_deferred_recipients(store: sessionmaker[Session]) -> None:
    handler = CollectingHandler(
        refuse={
            "weg@example.nl": "550 5.1.1 Mailbox unknown weg@example.nl",
            "vol@example.nl": "451 4.2.2 Mailbox full, try later",
        }
    )
    gone = add_email(store, "weg@example.nl")
    full = add_email(store, "vol@example.nl")
    fine = add_email(store, "goed@example.nl")
    with smtp_server(handler) as srv:
        report = send_queued(store, srv.settings())
    assert report.states == {"bounced": 1, "queued": 1, "sent": 1}
    assert state(store, gone) == ("bounced", "550 rcpt: 5.1.1 Mailbox unknown <adres>")
    assert state(store, full)[0] == "queued" and "451" in (state(store, full)[1] or "")
    assert state(store, fine)[0] == "sent"
    [failed] = _entries(store, "email_failed")
    assert failed.data["state"] == "bounced" and failed.data["code"] == 550
    assert "weg@" not in str(failed.data)


def test_bounce_from_a_dsn_is_recorded_by_message_id(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    email_id = add_email(store, "oud@example.nl")
    send_queued(store, server.settings())
    message_id = server.handler.received[0].message()["Message-ID"]
    with transaction(store) as session:
        with pytest.raises(NotFound):
            record_bounce(session, message_id.replace("bnet.", "bnet.9"), "5.1.1 unknown user")
        record_bounce(session, message_id, "5.1.1 unknown user")
    assert state(store, email_id) == ("bounced", "bounce: 5.1.1 unknown user")
    [entry] = _entries(store, "email_bounced")
    assert entry.data == {
        "email_id": email_id,
        "purpose": "outcome",
        "reason": "5.1.1 unknown user",
    }


def test_crlf_in_subject_cannot_add_a_header_or_recipient(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    add_email(store, "jan@example.nl", subject="Afgerond\r\nBcc: spion@attacker.example\r\n\r\nX")
    send_queued(store, server.settings())
    [got] = server.handler.received
    assert got.rcpt_tos == ["jan@example.nl"]
    msg = got.message()
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Afgerond Bcc: spion@attacker.example X"


def test_connection_lost_after_the_content_is_uncertain_and_not_resent(
    store: sessionmaker[Session],
) -> None:
    handler = CollectingHandler(drop_after_data={"twijfel@example.nl"})
    email_id = add_email(store, "twijfel@example.nl")
    after = add_email(store, "daarna@example.nl")
    with smtp_server(handler) as srv:
        report = send_queued(store, srv.settings())
        assert report.states == {"uncertain": 1, "sent": 1}
        send_queued(store, srv.settings())
    assert state(store, email_id)[0] == "uncertain"
    assert state(store, after)[0] == "sent"
    assert len(handler.to("twijfel@example.nl")) == 1
    assert _entries(store, "email_failed")[0].data["state"] == "uncertain"


def test_unsubscribed_participant_gets_nothing(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    email_id = add_email(store, "afgemeld@example.nl", status="unsubscribed")
    assert send_queued(store, server.settings()).states == {"cancelled": 1}
    assert state(store, email_id)[0] == "cancelled"
    assert server.handler.received == []


def test_malformed_address_fails_that_row_only(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    bad = add_email(store, "geen-adres")
    good = add_email(store, "wel@example.nl")
    assert send_queued(store, server.settings()).states == {"failed": 1, "sent": 1}
    assert state(store, bad)[0] == "failed"
    assert "e-mail address" in (state(store, bad)[1] or "")
    assert state(store, good)[0] == "sent"


def test_newsletter_without_action_needs_no_dossier(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    add_email(store, "lezer@example.nl", action_id=None, purpose="newsletter")
    assert send_queued(store, server.settings()).states == {"sent": 1}
    assert _entries(store, "email_sent") == []


def test_rate_limit_is_applied_per_message(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    clock = _FakeClock()
    settings = server.settings(max_per_s=2)
    limiter = TokenBucket(2, burst=1, clock=clock, sleep=clock.sleep)
    ctx = MailContext.from_settings(settings, limiter=limiter)
    for i in range(5):
        add_email(store, f"r{i}@example.nl")
    assert send_queued(store, settings, ctx=ctx).states == {"sent": 5}
    # One from the bucket, then four waits of half a second: 2/s on the simulated clock.
    assert clock.slept == [pytest.approx(0.5)] * 4
    assert len(server.handler.received) == 5


def test_connection_is_renewed_after_max_per_connection(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    for i in range(5):
        add_email(store, f"n{i}@example.nl")
    report = send_queued(store, server.settings(max_per_connection=2))
    assert report.states == {"sent": 5} and report.connections == 3


def test_no_server_leaves_everything_queued(store: sessionmaker[Session]) -> None:
    with smtp_server() as srv:
        settings = srv.settings()
    ids = [add_email(store, f"x{i}@example.nl") for i in range(2)]
    report = send_queued(store, settings)
    assert report.stopped is not None and "cannot connect" in report.stopped
    assert [state(store, i)[0] for i in ids] == ["queued", "queued"]


def test_starttls_and_auth(store: sessionmaker[Session], tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    email_id = add_email(store, "veilig@example.nl")
    with smtp_server(tls_dir=tmp_path) as srv:
        tls = srv.settings(starttls=True, ca_file=srv.cert_file, username=USER, password=PASSWORD)
        with pytest.raises(TransportError, match="login refused"):
            wrong = srv.settings(starttls=True, ca_file=srv.cert_file, username=USER, password="x")
            with SmtpSender(wrong) as sender:
                send_email(store, MailContext.from_settings(tls), sender, email_id)
        assert state(store, email_id)[0] == "queued"
        plain = srv.settings(username=USER, password=PASSWORD)
        assert "AUTH" in (send_queued(store, plain).stopped or "")
        untrusted = srv.settings(starttls=True, username=USER, password=PASSWORD)
        assert "TLS failed" in (send_queued(store, untrusted).stopped or "")
        assert send_queued(store, tls).states == {"sent": 1}
    assert len(srv.handler.received) == 1


def test_auth_over_plain_when_the_server_allows_it(store: sessionmaker[Session]) -> None:
    add_email(store, "plain@example.nl")
    with smtp_server(auth=True) as srv:
        report = send_queued(store, srv.settings(username=USER, password=PASSWORD))
    assert report.states == {"sent": 1}


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_changed_address_after_queueing_gets_the_mail(
    store: sessionmaker[Session], server: SmtpServer
) -> None:
    email_id = add_email(store, "oud-adres@example.nl")
    with transaction(store) as session:
        row = session.get(EmailMessage, email_id)
        assert row is not None
        person = session.get(Participant, row.participant_id)
        assert person is not None
        person.email = "nieuw-adres@example.nl"
    assert send_queued(store, server.settings()).states == {"sent": 1}
    assert [r.rcpt_tos for r in server.handler.received] == [["nieuw-adres@example.nl"]]
    message_id = server.handler.received[0].message()["Message-ID"]
    with transaction(store) as session:
        assert record_bounce(session, message_id, "5.1.1").id == email_id
