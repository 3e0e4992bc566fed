"""Text that may reach headers, dialplan variables, SMS fields or file names."""

from __future__ import annotations

import pytest

from engine.textsafe import UnsafeText, clean_field, control_chars, mask_address, mask_phone


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "a\x1bb", "a\u2028b", "a\u202eb",
                                 "a\tb", "a\x7fb"])
def test_control_characters_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(UnsafeText, match=r"^name contains control characters"):
        clean_field(bad, "name", max_len=50)


def test_clean_text_is_trimmed_and_normalised() -> None:
    # "e" + combining acute becomes one "é" (NFC), so lengths and comparisons are stable.
    assert clean_field("  Rene\u0301 van 't Hof ", "name", max_len=50) == "René van 't Hof"
    assert clean_field("👨‍👩‍👧 familie", "name", max_len=50) == "👨‍👩‍👧 familie"  # ZWJ is fine


def test_newlines_only_where_allowed_and_limits() -> None:
    assert clean_field("regel 1\nregel 2", "text", max_len=50, allow_newlines=True) == \
        "regel 1\nregel 2"
    with pytest.raises(UnsafeText):
        clean_field("regel 1\r\nregel 2", "text", max_len=50, allow_newlines=True)
    with pytest.raises(UnsafeText, match="longer than 5"):
        clean_field("123456", "code", max_len=5)
    with pytest.raises(UnsafeText, match="empty"):
        clean_field("   ", "name", max_len=5, required=True)
    assert control_chars("ok\x07") == ["\x07"]


def test_masks_hide_most_of_a_number_and_address() -> None:
    assert mask_phone("+31612345678") == "+3161****678"
    assert mask_phone("+3161") == "*****"
    assert mask_address("7411 AB", "12") == "7411 **"
    assert mask_address("") == "****"
