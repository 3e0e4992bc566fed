"""Phone numbers (E.164, mobile/landline, refusals) and weekly address windows."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.participants.phones import InvalidPhone, parse_phone
from engine.participants.windows import NL_TZ, InvalidWindow, Window, format_window, parse_window


@pytest.mark.parametrize(("raw", "e164", "kind"), [
    ("06-12345678", "+31612345678", "mobile"),
    ("06 1234 5678", "+31612345678", "mobile"),
    ("+31 (0)6 12345678", "+31612345678", "mobile"),
    ("0031612345678", "+31612345678", "mobile"),
    ("0570-612345", "+31570612345", "landline"),
    ("020 123 4567", "+31201234567", "landline"),
    ("085 123 4567", "+31851234567", "landline"),  # VoIP/"085" counts as landline
])
def test_dutch_numbers_become_e164_with_kind(raw: str, e164: str, kind: str) -> None:
    parsed = parse_phone(raw)
    assert (parsed.e164, parsed.kind) == (e164, kind)


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "not a phone number"),
    ("06-1234", "not a valid"),
    ("hallo", "not a phone number"),
    ("06123\n45678", "not a phone number"),
    ("0800 1234", "not a mobile or landline"),
    ("0900 1234567", "not a mobile or landline"),
    ("+32 470 12 34 56", "foreign"),
    ("+49 151 23456789", "foreign"),
    ("1" * 31, "not a phone number"),
])
def test_unusable_numbers_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        parse_phone(raw)


def test_foreign_numbers_only_when_allowed() -> None:
    assert parse_phone("+32 470 12 34 56", allow_foreign=True).e164 == "+32470123456"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local Amsterdam time on the week of Monday 23 Nov 2026 (day 0 = Monday)."""
    return datetime(2026, 11, 23 + day, hour, minute, tzinfo=NL_TZ)


def test_office_hours_window() -> None:
    w = parse_window("ma-vr 08:00-17:00")
    assert (w.days_mask, w.start_minute, w.end_minute) == (0b0011111, 480, 1020)
    assert w.contains(_at(0, 10)) and w.contains(_at(4, 8))
    assert not w.contains(_at(0, 17)) and not w.contains(_at(0, 7, 59))
    assert not w.contains(_at(6, 10)) and not w.contains(_at(5, 10))
    assert format_window(w) == "ma-vr 08:00-17:00"


def test_window_uses_amsterdam_time_across_dst() -> None:
    w = parse_window("ma-vr 08:00-17:00")
    # 07:30 UTC is 08:30 in winter (CET) but 09:30 in summer (CEST): both inside.
    assert w.contains(datetime.fromisoformat("2026-11-23T07:30:00+00:00"))
    assert w.contains(datetime.fromisoformat("2026-06-22T07:30:00+00:00"))
    # 06:30 UTC in summer is 08:30 local (inside), in winter 07:30 local (outside).
    assert w.contains(datetime.fromisoformat("2026-06-22T06:30:00+00:00"))
    assert not w.contains(datetime.fromisoformat("2026-11-23T06:30:00+00:00"))


def test_night_window_wraps_past_midnight_and_belongs_to_the_starting_day() -> None:
    w = parse_window("vr 22:00-06:00")  # Friday night shift
    assert w.contains(_at(4, 23)) and w.contains(_at(5, 3))  # Fri 23:00, Sat 03:00
    assert not w.contains(_at(4, 3))  # Friday 03:00 belongs to Thursday night
    assert not w.contains(_at(5, 23))


@pytest.mark.parametrize(("text", "mask"), [
    ("", 127), (None, 127), ("za", 0b0100000), ("za-zo", 0b1100000), ("vr-ma", 0b1110001),
    ("mon-fri 09:00-12:00", 0b0011111),
])
def test_day_ranges(text: str | None, mask: int) -> None:
    assert parse_window(text).days_mask == mask


@pytest.mark.parametrize("text", ["maandag", "ma-vr 8-17", "xx 08:00-09:00", "ma 25:00-26:00",
                                  "ma 09:00-09:00"])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(InvalidWindow):
        parse_window(text)


def test_always_window() -> None:
    assert Window().contains(_at(6, 3)) and format_window(Window()) == "altijd"


def _reference(raw: str) -> tuple[str, str] | str:
    """The plain phonenumbers route, to compare the fast path for common spellings with."""
    import phonenumbers
    from phonenumbers import PhoneNumberType as T

    try:
        num = phonenumbers.parse(raw.strip(), "NL")
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(num) or num.country_code != 31:
        return "invalid"
    t = phonenumbers.number_type(num)
    kind = "mobile" if t == T.MOBILE else (
        "landline" if t in (T.FIXED_LINE, T.VOIP, T.FIXED_LINE_OR_MOBILE) else "invalid")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return (e164, kind) if kind != "invalid" else "invalid"


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(["0", "+31", "0031", "+31 ", "00", "", "+3", "0 "]),
       digits=st.one_of(
           st.text(alphabet="0123456789", min_size=6, max_size=12),
           st.builds(str.__add__, st.sampled_from(["6", "97", "20", "570", "10", "85", "88",
                                                   "66", "800", "900", "14", "91"]),
                     st.text(alphabet="0123456789", min_size=5, max_size=9))),
       sep=st.sampled_from(["", " ", "-", "."]))
def test_fast_path_agrees_with_phonenumbers(prefix: str, digits: str, sep: str) -> None:
    raw = prefix + sep.join([digits[:3], digits[3:]])
    try:
        got: tuple[str, str] | str = (lambda p: (p.e164, p.kind))(parse_phone(raw))
    except InvalidPhone:
        got = "invalid"
    assert got == _reference(raw)
