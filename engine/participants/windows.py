"""Weekly time windows for addresses ("ma-vr 08:00-17:00"): when an address counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.errors import InvalidInput

NL_TZ = ZoneInfo("Europe/Amsterdam")
DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_EN = {"mon": "ma", "tue": "di", "wed": "wo", "thu": "do", "fri": "vr", "sat": "za", "sun": "zo"}
_RANGE = re.compile(r"^\s*(?:([a-z]{2,3})(?:\s*-\s*([a-z]{2,3}))?)?\s*"
                    r"(?:(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2}))?\s*$")


class InvalidWindow(InvalidInput):
    code = "invalid_window"


@dataclass(frozen=True)
class Window:
    days_mask: int = 127
    start_minute: int | None = None
    end_minute: int | None = None

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(NL_TZ)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start_minute is None or self.end_minute is None:
            return bool(self.days_mask >> day & 1)
        if self.start_minute <= self.end_minute:
            return bool(self.days_mask >> day & 1) and self.start_minute <= minute < self.end_minute
        # Wraps past midnight: the early-morning part belongs to the previous day's window.
        if minute >= self.start_minute:
            return bool(self.days_mask >> day & 1)
        return minute < self.end_minute and bool(self.days_mask >> ((day - 1) % 7) & 1)


def _day(token: str) -> int:
    t = _EN.get(token, token)
    if t not in DAYS:
        raise InvalidWindow(f"unknown day '{token}' (use ma, di, wo, do, vr, za, zo)")
    return DAYS.index(t)


def parse_window(text: str | None) -> Window:
    """Parse e.g. ``ma-vr 08:00-17:00``, ``za``, ``22:00-06:00``; empty means always."""
    if not text or not text.strip():
        return Window()
    m = _RANGE.match(text.strip().lower())
    if not m:
        raise InvalidWindow(f"'{text[:40]}' is not a time window like 'ma-vr 08:00-17:00'")
    d1, d2, h1, m1, h2, m2 = m.groups()
    mask = 127
    if d1:
        a, b = _day(d1), _day(d2 or d1)
        days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        mask = sum(1 << d for d in days)
    if h1 is None:
        return Window(mask)
    start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    if not (0 <= start < 1440 and 0 <= end <= 1440) or start == end:
        raise InvalidWindow(f"'{text[:40]}' has an impossible time range")
    return Window(mask, start, end)


def format_window(w: Window) -> str:
    days = [DAYS[d] for d in range(7) if w.days_mask >> d & 1]
    day_txt = "" if len(days) == 7 else (f"{days[0]}-{days[-1]}" if len(days) > 1 else days[0])
    if w.start_minute is None or w.end_minute is None:
        return day_txt or "altijd"
    t = f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}-" \
        f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}"
    return f"{day_txt} {t}".strip()
