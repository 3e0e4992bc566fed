"""SMTP reply classification, reply scrubbing, DATA framing and mail settings validation."""

from __future__ import annotations

import smtplib
from typing import ClassVar

import pytest
from pydantic import ValidationError

from engine.mail.errors import MailConfigError
from engine.mail.sender import (
    SendResult,
    SmtpSender,
    TransportError,
    _dot_stuffed,
    classify_reply,
    scrub,
)
from engine.mail.settings import MailSettings
from engine.mail.unsubscribe import token_provider


@pytest.mark.parametrize(
    ("stage", "code", "outcome"),
    [
        ("content", 250, "sent"),
        ("rcpt", 251, "sent"),
        ("rcpt", 550, "bounced"),
        ("rcpt", 553, "bounced"),
        ("rcpt", 450, "retry"),
        ("rcpt", 451, "retry"),
        ("mail", 550, "failed"),
        ("mail", 421, "retry"),
        ("data", 554, "failed"),
        ("content", 552, "failed"),
        ("content", 451, "retry"),
        ("mail", -1, "retry"),
    ],
)
def test_replies_are_classified_by_code_and_stage(stage: str, code: int, outcome: str) -> None:
    assert classify_reply(stage, code).outcome == outcome


def test_scrub_removes_the_recipient_address_from_server_text() -> None:
    text = "5.1.1 <Jan.Jansen@Example.nl>: Recipient\r\n address rejected"
    cleaned = scrub(text, "jan.jansen@example.nl")
    assert "jansen" not in cleaned.lower()
    assert cleaned == "5.1.1 <<adres>>: Recipient address rejected"


def test_dot_stuffing_protects_lines_that_start_with_a_dot() -> None:
    body = b"Subject: x\r\n\r\n.\r\n..twee\r\nlaatste"
    assert _dot_stuffed(body) == b"Subject: x\r\n\r\n..\r\n...twee\r\nlaatste\r\n.\r\n"


def test_bare_newlines_become_crlf() -> None:
    assert _dot_stuffed(b"a\nb\rc\r\n") == b"a\r\nb\r\nc\r\n.\r\n"


def test_sending_needs_an_unsubscribe_secret() -> None:
    with pytest.raises(MailConfigError, match=r"mail\.unsubscribe_secret"):
        token_provider(MailSettings())
    assert token_provider(MailSettings(unsubscribe_secret="x"))(5).startswith("5.")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 0),
        ("max_per_s", 0),
        ("unsubscribe_base_url", "javascript:alert(1)"),
        ("unsubscribe_base_url", "https://x.nl/a b"),
        ("retry_intervals_s", []),
        ("retry_intervals_s", [0]),
    ],
)
def test_bad_mail_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        MailSettings(**{field: value})
    assert field in str(exc.value)


class FakeSmtp:
    """Scripted stand-in for ``smtplib.SMTP``: each step answers from a script or raises."""

    opened: ClassVar[list[FakeSmtp]] = []

    def __init__(self, host: str, port: int, **_: object) -> None:
        self.script: dict[str, object] = dict(SCRIPTS.pop(0)) if SCRIPTS else {}
        self.sent: list[bytes] = []
        self.closed = False
        FakeSmtp.opened.append(self)

    def _step(self, name: str, default: tuple[int, bytes]) -> tuple[int, bytes]:
        answer = self.script.get(name, default)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, tuple)
        return answer

    def ehlo(self) -> tuple[int, bytes]:
        return (250, b"ok")

    def has_extn(self, name: str) -> bool:
        return False

    def mail(self, sender: str) -> tuple[int, bytes]:
        return self._step("mail", (250, b"ok"))

    def rcpt(self, recipient: str) -> tuple[int, bytes]:
        return self._step("rcpt", (250, b"ok"))

    def docmd(self, cmd: str) -> tuple[int, bytes]:
        return self._step("data", (354, b"go ahead"))

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def getreply(self) -> tuple[int, bytes]:
        return self._step("content", (250, b"queued as 1"))

    def rset(self) -> tuple[int, bytes]:
        return (250, b"ok")

    def quit(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


SCRIPTS: list[dict[str, object]] = []


def _send(*scripts: dict[str, object]) -> tuple[SendResult, list[FakeSmtp]]:
    from email.message import EmailMessage

    SCRIPTS[:] = list(scripts)
    FakeSmtp.opened = []
    msg = EmailMessage()
    msg["Subject"] = "x"
    msg.set_content("y")
    with SmtpSender(MailSettings(), smtp_factory=FakeSmtp) as sender:  # type: ignore[arg-type]
        result = sender.send(msg, envelope_from="a@b.nl", recipient="c@d.nl")
    return result, FakeSmtp.opened


def test_idle_connection_closed_by_the_relay_is_reopened_once() -> None:
    result, opened = _send({"mail": smtplib.SMTPServerDisconnected("idle")}, {})
    assert result.outcome == "sent"
    assert len(opened) == 2 and opened[1].sent


def test_connection_lost_before_the_content_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        _send({"rcpt": smtplib.SMTPServerDisconnected("gone")})
    assert not FakeSmtp.opened[0].sent


def test_connection_lost_waiting_for_the_final_reply_is_uncertain() -> None:
    result, opened = _send({"content": TimeoutError("timed out")})
    assert (result.outcome, result.stage) == ("uncertain", "content")
    assert opened[0].sent and opened[0].closed


def test_data_refused_is_classified_and_nothing_is_sent() -> None:
    result, opened = _send({"data": (554, b"5.7.1 no")})
    assert (result.outcome, result.code, result.stage) == ("failed", 554, "data")
    assert not opened[0].sent
