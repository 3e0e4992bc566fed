"""Dutch text normalization before synthesis (pure, no I/O).

A signalement is written for the eye ("m., ca. 30 jr., 1,80 m, kenteken 12-ABC-3, 14:05 uur");
a TTS voice reads such text badly or not at all. The rules below rewrite it for the ear. Order
matters: dates, times, plates, postcodes and phone numbers are recognised before plain numbers
so that their digits are not read as one large number.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.tts.words_nl import (
    MONTHS,
    digit_words,
    number_words,
    ordinal_words,
    speak_phone_number,
    spell_letters,
    year_words,
)

__all__ = ["ABBREVIATIONS", "normalize_dutch", "speak_phone_number"]

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_UNIT_WORDS: dict[str, tuple[str, str]] = {  # unit -> (singular, plural)
    "km/u": ("kilometer per uur", "kilometer per uur"),
    "km/h": ("kilometer per uur", "kilometer per uur"),
    "km": ("kilometer", "kilometer"),
    "cm": ("centimeter", "centimeter"),
    "mm": ("millimeter", "millimeter"),
    "m": ("meter", "meter"),
    "kg": ("kilo", "kilo"),
    "%": ("procent", "procent"),
    "jr": ("jaar", "jaar"),
    "jaar": ("jaar", "jaar"),
    "u": ("uur", "uur"),
    "min": ("minuut", "minuten"),
    "sec": ("seconde", "seconden"),
}

#: Abbreviations outside a number context (case-insensitive, first-letter case is kept).
ABBREVIATIONS: dict[str, str] = {
    "ca.": "circa", "ong.": "ongeveer", "jr.": "junior", "m.": "man",
    "nr.": "nummer", "o.a.": "onder andere", "i.p.v.": "in plaats van", "bijv.": "bijvoorbeeld",
    "bv.": "bijvoorbeeld", "enz.": "enzovoort", "evt.": "eventueel", "i.v.m.": "in verband met",
    "ivm": "in verband met", "t.h.v.": "ter hoogte van", "thv": "ter hoogte van",
    "z.s.m.": "zo snel mogelijk", "zsm": "zo snel mogelijk", "a.u.b.": "alstublieft",
    "aub": "alstublieft", "tel.": "telefoon", "dhr.": "de heer", "mevr.": "mevrouw",
    "e.d.": "en dergelijke", "t/m": "tot en met", "m.b.t.": "met betrekking tot",
    "nl.": "namelijk", "str.": "straat", "km": "kilometer", "km/u": "kilometer per uur",
    "p/u": "per uur", "ca": "circa", "nr": "nummer",
}  # fmt: skip

_MONTH_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mrt": 3, "apr": 4, "mei": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "okt": 10, "nov": 11, "dec": 12,
}  # fmt: skip

_NUM = r"\d{1,3}(?:\.\d{3})+|\d+"


def _int(text: str) -> int:
    return int(text.replace(".", ""))


def _date(m: re.Match[str]) -> str:
    day, month, year = int(m["d"]), int(m["m"]), int(m["y"])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        # Not a date after all: read the three numbers with a pause between them.
        return f"{number_words(day)}, {number_words(month)}, {year_words(year)}"
    return f"{number_words(day)} {MONTHS[month - 1]} {year_words(year)}"


def _day_month(m: re.Match[str]) -> str:
    day = int(m["d"])
    month = _MONTH_ABBREVIATIONS[m["mon"].lower()] if m["mon"] else int(m["m"])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m[0]
    return f"{m['pre'] or ''}{number_words(day)} {MONTHS[month - 1]}"


def _time(m: re.Match[str]) -> str:
    hours, minutes = int(m["h"]), int(m["min"])
    spoken = f"{number_words(hours)} uur"
    return spoken if minutes == 0 else f"{spoken} {number_words(minutes)}"


def _plate(m: re.Match[str]) -> str:
    groups = m[0].split("-")
    if sum(len(g) for g in groups) != 6 or all(g.isdigit() for g in groups):
        return m[0]
    return ", ".join(digit_words(g) if g.isdigit() else spell_letters(g) for g in groups)


def _postcode(m: re.Match[str]) -> str:
    return f"{digit_words(m['digits'])}, {spell_letters(m['letters'])}"


def _money(m: re.Match[str]) -> str:
    euros = number_words(_int(m["euros"]))
    cents = m["cents"]
    if cents and cents.isdigit() and int(cents) and euros == "nul":
        return f"{number_words(int(cents))} cent"
    if cents and cents.isdigit() and int(cents):
        return f"{euros} euro {number_words(int(cents))}"
    return f"{euros} euro"


def _length_m(m: re.Match[str]) -> str:
    # "1,80 m" is said "één meter tachtig"; "1,8 m" means the same length.
    return _length_m_words(m["whole"], m["frac"])


def _length_range(m: re.Match[str]) -> str:
    low = _length_m_words(m["w1"], m["f1"])
    high = _length_m_words(m["w2"], m["f2"])
    return f"{low} tot {high}"


def _length_m_words(whole: str, frac: str) -> str:
    centimetres = int(frac.ljust(2, "0"))
    words = number_words(int(whole))
    return f"{words} meter {number_words(centimetres)}" if centimetres else f"{words} meter"


def _decimal_words(whole: str, frac: str) -> str:
    frac_words = number_words(int(frac)) if not frac.startswith("0") else digit_words(frac)
    return f"{number_words(_int(whole))} komma {frac_words}"


def _with_unit(m: re.Match[str]) -> str:
    unit = m["unit"].lower().rstrip(".")
    singular, plural = _UNIT_WORDS[unit]
    if m["frac"]:
        return f"{_decimal_words(m['whole'], m['frac'])} {plural}"
    value = _int(m["whole"])
    return f"{number_words(value)} {singular if value == 1 else plural}"


def _range(m: re.Match[str]) -> str:
    # "tussen 20-25 jaar" reads "tussen twintig en vijfentwintig jaar", else "tot".
    joiner = "en" if m["pre"] else "tot"
    return f"{m['pre'] or ''}{number_words(_int(m['a']))} {joiner} {number_words(_int(m['b']))}"


def _ordinal(m: re.Match[str]) -> str:
    return ordinal_words(int(m["n"]))


def _decimal(m: re.Match[str]) -> str:
    return _decimal_words(m["whole"], m["frac"])


def _integer(m: re.Match[str]) -> str:
    digits = m[0]
    # Leading zeros or long runs are codes (house-less IDs, numbers), not quantities.
    if (digits.startswith("0") and len(digits) > 1) or len(_plain(digits)) > 12:
        return digit_words(digits)
    return number_words(_int(digits))


def _plain(digits: str) -> str:
    return digits.replace(".", "")


def _keep_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _abbreviation(m: re.Match[str]) -> str:
    return _keep_case(m[0], ABBREVIATIONS[m[0].lower()])


def _abbreviation_pattern() -> re.Pattern[str]:
    keys = sorted(ABBREVIATIONS, key=len, reverse=True)
    alternatives = "|".join(re.escape(k) for k in keys)
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w/])", re.IGNORECASE)


_UNITS_RE = r"km/u|km/h|km|cm|mm|m|kg|%|jr\.?|jaar|u\.?|min\.?|sec\.?"

#: Recognisers that must see the digits before plain-number rules do.
_STRUCTURED: list[Rule] = [
    (re.compile(r"\b(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})\b"), _date),
    (re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"), _date),
    # "tussen 20.00 en 21.00 uur": the first time has no "uur" of its own.
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3])[.:](?P<min>[0-5]\d)(?=\s(?:en|tot|-)\s"
                r"(?:[01]?\d|2[0-3])[.:][0-5]\d\s?(?:uur|u)\b)"), _time),
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3])[.:](?P<min>[0-5]\d)\s?(?:uur\b|u\b\.?)"), _time),
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3])u(?P<min>[0-5]\d)\b"), _time),
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)\b"), _time),
    (re.compile(r"\b(?:[A-Z]{1,3}|\d{1,3})-(?:[A-Z]{1,3}|\d{1,3})-(?:[A-Z]{1,3}|\d{1,3})\b"),
     _plate),
    (re.compile(r"\b(?P<digits>[1-9]\d{3}) ?(?P<letters>[A-Z]{2})\b"), _postcode),
    (re.compile(r"(?<![\w+])(?:\+\d{2}[ -]?|0)\d(?:[ -]?\d){6,10}(?![\d,])"),
     lambda m: speak_phone_number(m[0])),
    (re.compile(r"(?P<pre>\b(?:op|sinds|vanaf|per)\s)(?P<d>\d{1,2})-(?P<m>\d{1,2})(?P<mon>)"
                r"\b(?!-)"), _day_month),
    (re.compile(r"(?P<pre>)\b(?P<d>\d{1,2})\s(?P<m>)(?P<mon>" + "|".join(_MONTH_ABBREVIATIONS)
                + r")\b\.?"), _day_month),
    (re.compile(r"\b(?P<road>[AN])(?P<n>\d{1,3})\b"),
     lambda m: f"{spell_letters(m['road'])} {number_words(int(m['n']))}"),
    (re.compile(r"\s*(?:\+/-|±)\s*"), lambda m: " ongeveer "),
    (re.compile(r"\b112\b(?!\s?(?:" + _UNITS_RE + r")\b)"), lambda m: digit_words(m[0])),
    (re.compile(r"\b(?P<w1>\d)[,.](?P<f1>\d{1,2})\s?-\s?(?P<w2>\d)[,.](?P<f2>\d{1,2})\s?m\b\.?"),
     _length_range),
    (re.compile(rf"(?P<pre>\b(?i:tussen)\s+)?(?<![,.\d])\b(?P<a>{_NUM})\s?-\s?(?P<b>{_NUM})\b"
                r"(?![,.]\d)"), _range),
    (re.compile(rf"€\s?(?P<euros>{_NUM})(?:,(?P<cents>\d{{2}}|-{{1,2}}))?"), _money),
    (re.compile(rf"\b(?P<euros>{_NUM})(?:,(?P<cents>\d{{2}}))?\s?(?:euro|EUR)\b"), _money),
    (re.compile(r"\b(?P<whole>\d),(?P<frac>\d{1,2})\s?m\b\.?"), _length_m),
    (re.compile(r"\b(?P<whole>\d)\.(?P<frac>\d{1,2})\s?m\b\.?"), _length_m),
    (re.compile(r"\b(?P<whole>\d)m(?P<frac>\d{2})\b"), _length_m),
    (re.compile(rf"\b(?P<whole>{_NUM})(?:,(?P<frac>\d+))?\s?(?P<unit>{_UNITS_RE})(?!\w)"),
     _with_unit),
    (re.compile(r"\b(?P<n>\d{1,3})-jarige?\b"), lambda m: number_words(int(m["n"])) + "jarig"
     + ("e" if m[0].endswith("e") else "")),
]  # fmt: skip

_NUMBERS: list[Rule] = [
    (re.compile(r"\b(?P<n>\d{1,4})(?:e|ste|de)\b"), _ordinal),
    (re.compile(rf"\b(?P<whole>{_NUM}),(?P<frac>\d+)\b"), _decimal),
    (re.compile(r"\b(?P<whole>\d+)\.(?P<frac>\d{1,2})\b"), _decimal),
    (re.compile(rf"\b(?:{_NUM})\b"), _integer),
    # Digits glued to letters ("3x", "B12c"): never hand a digit to the voice.
    (re.compile(r"\d+"), lambda m: f" {_integer(m)} "),
]

_SYMBOLS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s*&\s*"), " en "),
    (re.compile(r"\s*°\s*"), " graden "),
    (re.compile(r"\s*€\s*"), " euro "),
    (re.compile(r"\s+"), " "),
]

_ABBREVIATION_RE = _abbreviation_pattern()


def normalize_dutch(text: str) -> str:
    """Rewrite written Dutch so a TTS voice reads it as a person would say it."""
    for pattern, replace in _STRUCTURED:
        text = pattern.sub(replace, text)
    text = _ABBREVIATION_RE.sub(_abbreviation, text)
    for pattern, replace in _NUMBERS:
        text = pattern.sub(replace, text)
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    return text.strip()
