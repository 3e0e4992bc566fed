"""SMTP transport: one connection reused for a batch, each transaction classified.

The transaction is driven step by step (MAIL, RCPT, DATA, content) rather than with
``send_message`` so that we know how far it got when something breaks: a failure before the
message content went out means nothing was delivered and a retry is safe; a connection lost
after it means the relay may have accepted it, so the row becomes ``uncertain`` and is never
resent blindly.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Literal

from engine.mail.errors import TemporaryMailError
from engine.mail.records import record_bounce
from engine.mail.settings import MailSettings

__all__ = ["SendResult", "SmtpSender", "TransportError", "classify_reply", "record_bounce"]

Outcome = Literal["sent", "bounced", "failed", "retry", "uncertain"]
SmtpFactory = Callable[..., smtplib.SMTP]
_MAX_DETAIL = 200


class TransportError(TemporaryMailError):
    """No usable connection (connect, STARTTLS or AUTH failed): no message was sent."""

    code = "mail_transport"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    #: SMTP reply code (None when the connection broke before a reply).
    code: int | None = None
    #: Server reply or error, scrubbed of the recipient's address.
    detail: str = ""
    #: The SMTP step that decided: mail, rcpt, data, content.
    stage: str = ""


def classify_reply(stage: str, code: int, detail: str = "") -> SendResult:
    """Map an SMTP reply to what happens to the row.

    4xx is temporary (retry later); 5xx is permanent: on RCPT it means the address itself is
    refused (bounced: relatiebeheer should follow up), elsewhere the message or sender is
    (failed). Anything that is not an SMTP code is treated as temporary.
    """
    if 200 <= code < 300:
        return SendResult("sent", code, detail, stage)
    if 500 <= code < 600:
        return SendResult("bounced" if stage == "rcpt" else "failed", code, detail, stage)
    return SendResult("retry", code, detail, stage)


def scrub(text: str, address: str) -> str:
    """Reply text without the recipient's address (it goes to the dossier and logs)."""
    if address:
        text = re.sub(re.escape(address), "<adres>", text, flags=re.IGNORECASE)
    return " ".join(text.split())[:_MAX_DETAIL]


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class SmtpSender:
    """Sends messages over one SMTP connection, opened lazily and reopened when needed."""

    def __init__(
        self,
        settings: MailSettings,
        *,
        smtp_factory: SmtpFactory = smtplib.SMTP,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self._factory = smtp_factory
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        #: Connections opened so far (lets callers and tests see reuse).
        self.connections = 0

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, msg: EmailMessage, *, envelope_from: str, recipient: str) -> SendResult:
        """One SMTP transaction; raises :class:`TransportError` only when nothing was sent."""
        if self._sent_on_connection >= self.settings.max_per_connection:
            self.close()
        smtp = self._connection()
        reply: bytes | str
        try:
            code, reply = smtp.mail(envelope_from)
        except (smtplib.SMTPServerDisconnected, OSError):
            # The relay closed an idle connection: open a new one once, nothing was sent yet.
            self._drop()
            smtp = self._connection()
            code, reply = self._guard(smtp.mail, envelope_from)
        result = self._transaction(smtp, code, _reply_text(reply), msg, recipient)
        self._sent_on_connection += 1
        return result

    def _transaction(
        self, smtp: smtplib.SMTP, code: int, reply: str, msg: EmailMessage, recipient: str
    ) -> SendResult:
        if code != 250:
            return self._abort(smtp, classify_reply("mail", code, scrub(reply, recipient)))
        code, raw = self._guard(smtp.rcpt, recipient)
        if code not in (250, 251):
            return self._abort(smtp, self._refused("rcpt", code, raw, recipient))
        code, raw = self._guard(smtp.docmd, "DATA")
        if code != 354:
            return self._abort(smtp, self._refused("data", code, raw, recipient))
        return self._content(smtp, msg, recipient)

    @staticmethod
    def _refused(stage: str, code: int, raw: bytes | str, recipient: str) -> SendResult:
        return classify_reply(stage, code, scrub(_reply_text(raw), recipient))

    def _content(self, smtp: smtplib.SMTP, msg: EmailMessage, recipient: str) -> SendResult:
        payload = _dot_stuffed(msg.as_bytes())
        try:
            smtp.send(payload)
            code, raw = smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            # The content may have reached the relay: never resend this one blindly.
            self._drop()
            return SendResult(
                "uncertain", None, scrub(str(exc) or type(exc).__name__, recipient), "content"
            )
        return classify_reply("content", code, scrub(_reply_text(raw), recipient))

    def _guard(self, step: Callable[[str], tuple[int, bytes]], arg: str) -> tuple[int, bytes | str]:
        """Run a step before the content: a broken connection here delivered nothing."""
        try:
            return step(arg)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransportError(f"SMTP connection lost: {type(exc).__name__}") from exc

    def _abort(self, smtp: smtplib.SMTP, result: SendResult) -> SendResult:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        return result

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._open()
            self._sent_on_connection = 0
            self.connections += 1
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            smtp = self._factory(s.host, s.port, local_hostname=s.helo_name, timeout=s.timeout_s)
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"cannot connect to SMTP server {where}: {exc}") from exc
        try:
            self._secure_and_login(smtp)
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            smtp.close()
            raise TransportError(f"SMTP server {where}: {_setup_error(exc)}") from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _secure_and_login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        smtp.ehlo()
        if s.starttls:
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("server does not offer STARTTLS")
            smtp.starttls(context=self._ssl_context or self._make_context())
            smtp.ehlo()
        if s.username:
            password = s.password.get_secret_value() if s.password else ""
            smtp.login(s.username, password)

    def _make_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(
            cafile=str(self.settings.ca_file) if self.settings.ca_file else None
        )
        if not self.settings.tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


def _setup_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused ({exc.smtp_code}): check mail.username and mail.password"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{exc} (mail.starttls is on)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc} (mail.ca_file / mail.tls_verify)"
    return f"{type(exc).__name__}: {exc}"


def _dot_stuffed(data: bytes) -> bytes:
    """DATA content: CRLF line ends, leading dots doubled, ended by ``.`` on its own line."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"
