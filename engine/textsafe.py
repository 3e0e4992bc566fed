"""Boundary checks for text that can reach AMI headers, dialplan variables, SMS fields,
e-mail headers or file names: control characters (CR/LF above all) are refused."""

from __future__ import annotations

import unicodedata

from engine.errors import InvalidInput


class UnsafeText(InvalidInput):
    code = "invalid_text"


def control_chars(text: str, *, allow_newlines: bool = False) -> list[str]:
    if text.isascii() and text.isprintable():
        return []  # the common case, without a per-character look-up
    bad = []
    for ch in text:
        if allow_newlines and ch in "\n":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200d":
            bad.append(ch)
    return bad


def clean_field(
    text: str, field: str, *, max_len: int, allow_newlines: bool = False, required: bool = False
) -> str:
    """Trim and validate one text field; raise :class:`UnsafeText` naming the field."""
    value = unicodedata.normalize("NFC", text).strip()
    bad = control_chars(value, allow_newlines=allow_newlines)
    if bad:
        raise UnsafeText(f"{field} contains control characters (e.g. {bad[0]!r}); remove them")
    if len(value) > max_len:
        raise UnsafeText(f"{field} is longer than {max_len} characters")
    if required and not value:
        raise UnsafeText(f"{field} is empty")
    return value


def mask_phone(e164: str) -> str:
    """``+31612345678`` → ``+3161****678``: enough to tell numbers apart in logs."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:5] + "****" + e164[-3:]


def mask_address(postcode: str, house_number: str = "") -> str:
    return (postcode[:4] + " **") if postcode else "****"
