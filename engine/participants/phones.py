"""Phone numbers: E.164 with NL as default region; mobile or landline."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberDesc, PhoneNumberType

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
    if not text or len(text) > 30 or _CONTROL.search(text):
        raise InvalidPhone(f"'{text[:30]}' is not a phone number")
    nsn = _plain_dutch(text)
    if nsn is not None:
        return ParsedPhone("+31" + nsn, _checked(text, _classify_nl(nsn)))
    try:
        num = phonenumbers.parse(text, "NL")
    except NumberParseException as exc:
        raise InvalidPhone(f"'{text}' is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone(f"'{text}' is not a valid phone number")
    if num.country_code != 31 and not allow_foreign:
        raise InvalidPhone(f"'{text}' is a foreign number; only Dutch numbers can be reached")
    ntype = phonenumbers.number_type(num)
    kind = "mobile" if ntype in _MOBILE else ("landline" if ntype in _LANDLINE else _SERVICE)
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return ParsedPhone(e164, _checked(text, kind))


_SERVICE, _INVALID = "service", "invalid"


def _checked(text: str, kind: str) -> str:
    if kind == _INVALID:
        raise InvalidPhone(f"'{text}' is not a valid phone number")
    if kind == _SERVICE:
        raise InvalidPhone(f"'{text}' is not a mobile or landline number (service number?)")
    return kind


_CONTROL = re.compile(r"[\x00-\x1f]")
_PLAIN = re.compile(r"^(?:\+31|0031|0)([1-9][0-9]{6,10})$")


def _plain_dutch(text: str) -> str | None:
    """The national number of ``06-12345678``, ``+31 570 612345`` and the like.

    ``phonenumbers.parse`` is most of the cost of a number in a bulk import; these common
    spellings need only their separators removed. Anything else goes through the full parser.
    """
    m = _PLAIN.match(text.replace(" ", "").replace("-", "").replace(".", ""))
    return m.group(1) if m else None


def _desc_matcher(desc: PhoneNumberDesc | None) -> tuple[tuple[int, ...], re.Pattern[str]] | None:
    if desc is None or desc.national_number_pattern is None:
        return None
    return tuple(desc.possible_length or ()), re.compile(desc.national_number_pattern)


_NL = PhoneMetadata.metadata_for_region("NL")
#: phonenumbers' own type order (``_number_type_helper``) with its NL patterns, so that the
#: fast path classifies exactly as the library does.
_NL_TYPES = [(_desc_matcher(d), kind) for d, kind in (
    (_NL.premium_rate, _SERVICE), (_NL.toll_free, _SERVICE), (_NL.shared_cost, _SERVICE),
    (_NL.voip, "landline"), (_NL.personal_number, _SERVICE), (_NL.pager, _SERVICE),
    (_NL.uan, _SERVICE), (_NL.voicemail, _SERVICE), (_NL.fixed_line, "landline"),
    (_NL.mobile, "mobile"))] if _NL is not None else []
_NL_GENERAL = _desc_matcher(_NL.general_desc) if _NL is not None else None


def _matches(nsn: str, matcher: tuple[tuple[int, ...], re.Pattern[str]] | None) -> bool:
    if matcher is None:
        return False
    lengths, pattern = matcher
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


def _by_length() -> dict[int, tuple[re.Pattern[str], dict[str, str]]]:
    """Per number length, one alternation of the type patterns that allow that length, in
    the library's order: a single ``fullmatch`` classifies (alternatives are tried in order)."""
    lengths = {n for m, _ in _NL_TYPES if m for n in m[0]}
    out = {}
    for n in lengths:
        alts = [(f"t{i}", m[1].pattern, kind) for i, (m, kind) in enumerate(_NL_TYPES)
                if m and (not m[0] or n in m[0])]
        out[n] = (re.compile("|".join(f"(?P<{g}>{pat})" for g, pat, _ in alts)),
                  {g: kind for g, _, kind in alts})
    return out


_NL_BY_LENGTH = _by_length()


def _classify_nl(nsn: str) -> str:
    if not _matches(nsn, _NL_GENERAL):
        return _INVALID
    entry = _NL_BY_LENGTH.get(len(nsn))
    if entry is None:  # a length no type lists: only types without a length list can match
        return next((kind for m, kind in _NL_TYPES if _matches(nsn, m)), _INVALID)
    pattern, kinds = entry
    m = pattern.fullmatch(nsn)
    return kinds[m.lastgroup] if m is not None and m.lastgroup is not None else _INVALID
