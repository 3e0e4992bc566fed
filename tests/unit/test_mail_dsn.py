"""Reading bounces (RFC 3464 delivery status notifications)."""

from __future__ import annotations

import pytest

from engine.mail.dsn import parse_dsn
from tests.mail_support import dsn_bytes

ORIGINAL = (
    "From: Burgernet <noreply@burgernet.example>\n"
    "To: jan@example.nl\n"
    "Subject: Burgernetactie afgerond\n"
    "Message-ID: <bnet.7.0123456789ab@burgernet.example>\n"
)


@pytest.mark.parametrize("headers_only", [False, True])
def test_failed_recipient_gives_the_original_message_id(headers_only: bool) -> None:
    bounce = parse_dsn(dsn_bytes(ORIGINAL, headers_only=headers_only))
    assert bounce is not None
    assert bounce.message_id == "<bnet.7.0123456789ab@burgernet.example>"
    assert bounce.status == "5.1.1"
    assert bounce.reason == "5.1.1 550 5.1.1 <<adres>>: Recipient address rejected"


def test_reason_never_contains_the_address() -> None:
    bounce = parse_dsn(dsn_bytes(ORIGINAL, diagnostic="smtp; 550 jan@example.nl unknown"))
    assert bounce is not None and "jan@" not in bounce.reason


def test_delayed_delivery_is_not_a_bounce() -> None:
    assert parse_dsn(dsn_bytes(ORIGINAL, action="delayed", status="4.4.1")) is None


def test_ordinary_mail_is_not_a_bounce() -> None:
    assert parse_dsn(ORIGINAL.encode() + b"\nHallo\n") is None


def test_report_without_the_original_headers_is_not_used() -> None:
    assert parse_dsn(dsn_bytes("X-Nothing: here\n")) is None


def test_garbage_does_not_crash() -> None:
    assert parse_dsn(b"\x00\xff" * 100) is None
    assert parse_dsn(b"Content-Type: multipart/report\n\n--\n") is None
