"""Who is calling: the AGI caller id as E.164, masked for logs and for the centralist's display."""

from __future__ import annotations

import re

import phonenumbers

#: What Asterisk puts in agi_callerid when the number is withheld or missing.
_NO_NUMBER = {"", "unknown", "anonymous", "restricted", "private", "<unknown>"}
_DISPLAY_SAFE = re.compile(r"[^A-Za-z0-9 +*#-]")
DISPLAY_MAX = 40


def caller_e164(raw: str, region: str = "NL") -> str | None:
    """``0612345678`` / ``31612345678`` / ``+31612345678`` -> ``+31612345678``; else None.

    Carriers deliver national (0...), international without '+' (31...) or 00-prefixed forms.
    """
    digits = raw.strip()
    if digits.lower() in _NO_NUMBER or len(digits) > 20:
        return None
    if not re.fullmatch(r"\+?[0-9]{3,20}", digits):
        return None
    candidates = [digits]
    if digits.startswith("00"):
        candidates = ["+" + digits[2:]]
    elif not digits.startswith(("+", "0")):
        candidates = ["+" + digits, digits]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def mask_number(number: str | None) -> str:
    """``+31612345678`` -> ``+3161****678``: enough to recognise, not enough to dial."""
    if not number:
        return "anoniem"
    head, tail = number[:5], number[-3:]
    if len(number) <= 8:
        return number[:2] + "****"
    return f"{head}****{tail}"


def caller_display(action_id: str | None, number: str | None) -> str:
    """CALLERID(name) for the centralist's phone, e.g. ``BN 3f9a1c +3161****678``.

    Only characters that are safe in a dialplan variable and a SIP display name survive.
    """
    short = (action_id or "")[:6] or "geen-actie"
    text = f"BN {short} {mask_number(number)}"
    return _DISPLAY_SAFE.sub("", text)[:DISPLAY_MAX]
