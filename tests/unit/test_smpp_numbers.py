"""Who an incoming SMS is from, and who may get one."""

from __future__ import annotations

import pytest

from engine.smpp.claims import NotMobile, check_mobile
from engine.smpp.mo import sender_e164


@pytest.mark.parametrize(
    ("source", "e164"),
    [
        ("31612345678", "+31612345678"),
        ("+31612345678", "+31612345678"),
        ("0612345678", "+31612345678"),
        ("32470123456", "+32470123456"),
    ],
)
def test_sender_numbers_become_e164(source: str, e164: str) -> None:
    assert sender_e164(source) == e164


@pytest.mark.parametrize("source", ["", "Burgernet", "12"])
def test_unreadable_senders_are_none(source: str) -> None:
    assert sender_e164(source) is None


def test_mobile_numbers_pass() -> None:
    check_mobile("+31612345678")


@pytest.mark.parametrize("number", ["+31201234567", "+31800001100", "+3161", "garbage"])
def test_landline_service_and_invalid_numbers_are_refused(number: str) -> None:
    with pytest.raises(NotMobile, match="mobile"):
        check_mobile(number)
