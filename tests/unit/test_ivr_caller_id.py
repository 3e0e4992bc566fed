"""Caller identification and what the centralist's phone shows."""

from __future__ import annotations

import pytest

from engine.ivr.caller_id import caller_display, caller_e164, mask_number


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0612345678", "+31612345678"),
        ("31612345678", "+31612345678"),
        ("+31612345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("0570612345", "+31570612345"),
        ("anonymous", None),
        ("", None),
        ("unknown", None),
        ("06-1234\n5678", None),
        ("1" * 30, None),
    ],
)
def test_caller_e164(raw: str, e164: str | None) -> None:
    assert caller_e164(raw) == e164


def test_transcript_caller_id_that_is_not_a_dutch_number_is_unknown() -> None:
    # transcript 08's sipp caller sends 015112345678 (12 digits: no valid NL number)
    assert caller_e164("015112345678") is None


def test_mask_number_hides_the_middle() -> None:
    assert mask_number("+31612345678") == "+3161****678"
    assert mask_number(None) == "anoniem"


def test_display_name_is_sanitized_and_short() -> None:
    shown = caller_display('ab"c\n;12345678', "+31612345678")
    assert shown == "BN abc +3161****678"
    assert len(shown) <= 40
    assert caller_display(None, None) == "BN geen-actie anoniem"
