"""Phone numbers: E.164 with NL as default region; mobile or landline."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from engine.errors import InvalidInput


class InvalidPhone(InvalidInput):
    code = "invalid_phone"


@dataclass(frozen=True)
class ParsedPhone:
    e164: str
    kind: str  # mobile | landline


_MOBILE = {PhoneNumberType.MOBILE}
_LANDLINE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def parse_phone(raw: str, *, allow_foreign: bool = False) -> ParsedPhone:
    text = (raw or "").strip()
    if not text or len(text) > 30 or any(ord(c) < 32 for c in text):
        raise InvalidPhone(f"'{text[:30]}' is not a phone number")
    try:
        num = phonenumbers.parse(text, "NL")
    except NumberParseException as exc:
        raise InvalidPhone(f"'{text}' is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone(f"'{text}' is not a valid phone number")
    if num.country_code != 31 and not allow_foreign:
        raise InvalidPhone(f"'{text}' is a foreign number; only Dutch numbers can be reached")
    ntype = phonenumbers.number_type(num)
    if ntype in _MOBILE:
        kind = "mobile"
    elif ntype in _LANDLINE:
        kind = "landline"
    else:
        raise InvalidPhone(f"'{text}' is not a mobile or landline number (service number?)")
    return ParsedPhone(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), kind)
