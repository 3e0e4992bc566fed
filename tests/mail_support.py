"""Mail test helpers: a real aiosmtpd server on a free port, and store rows to send."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import Action, EmailMessage
from engine.embedded import free_port
from engine.mail.settings import MailSettings
from engine.participants.models import Participant
from engine.store.db import transaction

SECRET = "test-unsubscribe-secret"
USER, PASSWORD = "bnet", "wachtwoord"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> MimeMessage:
        msg = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(msg, MimeMessage)
        return msg


@dataclass
class CollectingHandler:
    """Accepts everything except the scripted recipients; can drop the line after DATA."""

    #: address -> full reply for RCPT, e.g. "550 5.1.1 Mailbox unknown"
    refuse: dict[str, str] = field(default_factory=dict)
    #: addresses whose message is taken but answered by closing the connection
    drop_after_data: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        if self.drop_after_data & set(envelope.rcpt_tos):
            server.transport.close()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: CollectingHandler
    cert_file: Path | None = None

    def settings(self, **overrides: Any) -> MailSettings:
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "helo_name": "bnet.test",
            "timeout_s": 5,
            "max_per_s": 1000,
            "unsubscribe_secret": SECRET,
            "unsubscribe_base_url": "https://burgernet.test/v1/participants/unsubscribe",
        }
        values.update(overrides)
        return MailSettings(**values)


@contextmanager
def smtp_server(
    handler: CollectingHandler | None = None,
    *,
    tls_dir: Path | None = None,
    auth: bool = False,
) -> Iterator[SmtpServer]:
    """aiosmtpd on a free port; with ``tls_dir`` it requires STARTTLS (self-signed cert) and
    AUTH; with ``auth`` alone it offers AUTH over plain text (``auth_require_tls=False``)."""
    handler = handler or CollectingHandler()
    kwargs: dict[str, Any] = {}
    cert_file = None
    if tls_dir is not None:
        cert_file, key_file = self_signed_cert(tls_dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_file, key_file)
        kwargs.update(tls_context=ctx, require_starttls=True, auth_required=True)
    if tls_dir is not None or auth:
        kwargs.update(authenticator=_authenticate, auth_require_tls=tls_dir is not None)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, cert_file)
    finally:
        controller.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


ACTION_ID = "A20261124000001"


def add_action(factory: sessionmaker[Session], action_id: str = ACTION_ID) -> str:
    with transaction(factory) as session:
        session.add(
            Action(
                id=action_id,
                kind="suspect",
                state="closed",
                region="oost-nederland",
                signalement="Man, ongeveer 30 jaar, rode jas.",
                callback_number="08000011",
                lat=52.0,
                lon=6.0,
                area={"type": "circle", "radius_m": 2000},
                created_by="test",
            )
        )
    return action_id


def add_email(
    factory: sessionmaker[Session],
    address: str,
    *,
    action_id: str | None = ACTION_ID,
    subject: str = "Burgernetactie afgerond",
    body: str = "De verdachte is aangehouden. Bedankt voor uw hulp.",
    status: str = "active",
    purpose: str = "outcome",
) -> int:
    """A participant with ``address`` and a queued e-mail for them; returns the e-mail ID."""
    with transaction(factory) as session:
        person = Participant(
            name="Jan de Vries", email=address, status=status, email_followups=True
        )
        session.add(person)
        session.flush()
        row = EmailMessage(
            action_id=action_id,
            participant_id=person.id,
            address=address,
            purpose=purpose,
            subject=subject,
            body_text=body,
        )
        session.add(row)
        session.flush()
        return row.id


def state(factory: sessionmaker[Session], email_id: int) -> tuple[str, str | None]:
    with factory() as session:
        row = session.get(EmailMessage, email_id)
        assert row is not None
        return row.state, row.error


def dsn_bytes(
    original_headers: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <jan@example.nl>: Recipient address rejected",
    headers_only: bool = False,
) -> bytes:
    """A delivery status notification as Postfix writes it (RFC 3464), for ``original``."""
    kind = "text/rfc822-headers" if headers_only else "message/rfc822"
    original = original_headers.strip() + ("\n" if headers_only else "\n\nDe inhoud.\n")
    return (
        "From: MAILER-DAEMON@mx.example.nl (Mail Delivery System)\n"
        "To: noreply@burgernet.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n'
        "\n--B\nContent-Type: text/plain; charset=us-ascii\n\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n"
        "\n--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.nl\n"
        "Arrival-Date: Tue, 24 Nov 2026 13:00:00 +0100 (CET)\n\n"
        "Final-Recipient: rfc822; jan@example.nl\n"
        "Original-Recipient: rfc822;jan@example.nl\n"
        f"Action: {action}\nStatus: {status}\n"
        "Remote-MTA: dns; mail.example.nl\n"
        f"Diagnostic-Code: {diagnostic}\n"
        f"\n--B\nContent-Type: {kind}\n\n{original}"
        "\n--B--\n"
    ).encode()
