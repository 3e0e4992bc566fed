"""SMTP reply classification, reply scrubbing, DATA framing and mail settings validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.mail.errors import MailConfigError
from engine.mail.sender import _dot_stuffed, classify_reply, scrub
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
