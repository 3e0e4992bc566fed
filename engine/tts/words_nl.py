"""Dutch words for numbers, digits and letters (pure).

``één`` (with accents) is used for the number one everywhere: espeak-ng reads a bare ``een``
as the article (a schwa), which a caller on a phone line does not recognise as a digit.
"""

from __future__ import annotations

import re

_UNITS = (
    "nul", "één", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen",
    "tien", "elf", "twaalf", "dertien", "veertien", "vijftien", "zestien", "zeventien",
    "achttien", "negentien",
)  # fmt: skip
_TENS = ("", "", "twintig", "dertig", "veertig", "vijftig", "zestig", "zeventig", "tachtig",
         "negentig")  # fmt: skip

#: Letter names as spoken when spelling; ``èr``: espeak-ng reads ``er`` with a schwa.
LETTER_NAMES: dict[str, str] = {
    "A": "aa", "B": "bee", "C": "cee", "D": "dee", "E": "ee", "F": "ef", "G": "gee",
    "H": "haa", "I": "ie", "J": "jee", "K": "kaa", "L": "el", "M": "em", "N": "en",
    "O": "oo", "P": "pee", "Q": "kuu", "R": "èr", "S": "es", "T": "tee", "U": "uu",
    "V": "vee", "W": "wee", "X": "iks", "Y": "ei", "Z": "zet",
}  # fmt: skip

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")  # fmt: skip

_SERVICE_PREFIXES = ("0800", "0900", "0906", "0909", "0910", "0970", "0085", "0088")


def _below_100(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if unit == 0:
        return _TENS[tens]
    first = "een" if unit == 1 else _UNITS[unit]
    # "twee" + "en" needs a diaeresis: tweeëntwintig, drieëndertig.
    joiner = "ën" if first.endswith("e") else "en"
    return f"{first}{joiner}{_TENS[tens]}"


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    head = "" if hundreds == 0 else ("honderd" if hundreds == 1 else _UNITS[hundreds] + "honderd")
    if rest == 0:
        return head or "nul"
    tail = "een" if (rest == 1 and head) else _below_100(rest)
    return head + tail


def number_words(n: int) -> str:
    """Cardinal number in words: 1250 -> "duizend tweehonderdvijftig"."""
    if n < 0:
        return "min " + number_words(-n)
    if n < 1000:
        return _below_1000(n)
    parts: list[str] = []
    for size, word in ((10**9, "miljard"), (10**6, "miljoen"), (1000, "duizend")):
        count, n = divmod(n, size)
        if count == 0:
            continue
        if size == 1000:
            parts.append(word if count == 1 else _below_1000(count) + word)
        else:
            parts.append(f"{number_words(count)} {word}")
    if n:
        parts.append(_below_1000(n))
    return " ".join(parts)


def ordinal_words(n: int) -> str:
    """Ordinal: 1 -> "eerste", 3 -> "derde", 8 -> "achtste", 20 -> "twintigste"."""
    irregular = {1: "eerste", 3: "derde", 8: "achtste"}
    if n in irregular:
        return irregular[n]
    words = number_words(n)
    last = n % 100
    if last in irregular and n > 100:
        return words[: -len(_below_100(last))] + irregular[last]
    if 1 < last < 20:
        return words + "de"
    return words + "ste"


def year_words(year: int) -> str:
    """Years are read like Dutch speakers do: 1985 -> "negentienhonderdvijfentachtig"."""
    if 1100 <= year < 2000 and year % 100 != 0:
        return _below_100(year // 100) + "honderd" + _below_100(year % 100)
    return number_words(year)


def digit_words(digits: str) -> str:
    """Each digit separately: "0800" -> "nul acht nul nul"."""
    return " ".join(_UNITS[int(d)] for d in digits if d.isdigit())


def spell_letters(letters: str) -> str:
    return " ".join(LETTER_NAMES.get(c.upper(), c) for c in letters)


def _split_even(digits: str, size: int = 4) -> list[str]:
    """Split into groups of at most ``size`` digits, balanced: 7 -> 3+4, 8 -> 4+4."""
    count = -(-len(digits) // size)
    if count <= 1:
        return [digits] if digits else []
    base, extra = divmod(len(digits), count)
    sizes = [base + (1 if i >= count - extra else 0) for i in range(count)]
    groups, pos = [], 0
    for s in sizes:
        groups.append(digits[pos : pos + s])
        pos += s
    return groups


def phone_digit_groups(number: str) -> list[str]:
    """Digit groups as written ("0800-0011"), or by Dutch convention when written as one run."""
    plus = number.strip().startswith("+")
    written = [g for g in re.split(r"[^0-9]+", number) if g]
    if len(written) > 1:
        groups = [part for g in written for part in _split_even(g)]
    else:
        digits = written[0] if written else ""
        if plus and digits.startswith("316") and len(digits) == 11:
            groups = [digits[:2], digits[2], *_split_even(digits[3:])]
        elif plus:
            groups = [digits[:2], *_split_even(digits[2:])]
        elif digits.startswith(_SERVICE_PREFIXES):
            groups = [digits[:4], *_split_even(digits[4:])]
        elif digits.startswith("06") and len(digits) == 10:
            groups = [digits[:2], *_split_even(digits[2:])]
        elif len(digits) == 10 and digits.startswith("0"):
            groups = [digits[:3], *_split_even(digits[3:])]
        else:
            groups = _split_even(digits)
    if plus and groups:
        groups[0] = "+" + groups[0]
    return groups


def speak_phone_number(number: str) -> str:
    """A phone number read digit by digit, group by group, with a pause (comma) between groups.

    "0800-0011" -> "nul acht nul nul, nul nul één één"; "+31 6 12345678" starts with "plus".
    """
    spoken = []
    for group in phone_digit_groups(number):
        prefix = "plus " if group.startswith("+") else ""
        spoken.append(prefix + digit_words(group))
    return ", ".join(spoken)
