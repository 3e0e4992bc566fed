"""Who to reach: active, consenting participants whose address (valid at that moment) lies in
the area; one entry per phone number, nearest first.

Non-exact addresses sit on their PC4 centroid, so for them the area test is a test of ~4,000
centroids in memory and the store is only asked ``pc4 IN (...)``. The rare exact addresses are
found through a partial index on latitude.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.geo import polygon as poly
from engine.geo.distance import bbox_around, haversine_many
from engine.geo.service import Pc4Index
from engine.participants.windows import Window


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Polygon:
    #: Outer ring in GeoJSON order (lon, lat); holes are not supported.
    rings: list[list[tuple[float, float]]]

    @property
    def outer(self) -> poly.Ring:
        return self.rings[0]


Area = Circle | Polygon


@dataclass(frozen=True)
class SelectedPhone:
    participant_id: int
    e164: str
    phone_kind: str
    channel: str
    distance_m: float
    pc4: str


@dataclass
class Selection:
    entries: list[SelectedPhone]
    count_by_channel: dict[str, int] = field(default_factory=dict)
    count_by_pc4: dict[str, int] = field(default_factory=dict)

    @property
    def participants(self) -> int:
        return len({e.participant_id for e in self.entries})


_COLUMNS = """a.participant_id, a.lat, a.lon, a.pc4, a.days_mask, a.start_minute, a.end_minute,
 p.channel_pref, ph.e164, ph.kind
 FROM address a
 JOIN participant p ON p.id = a.participant_id
 JOIN phone ph ON ph.participant_id = a.participant_id"""
_ACTIVE = "p.status = 'active' AND p.consent_at IS NOT NULL AND ph.invalid_since IS NULL"


def _in_list(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in names), names


def _fetch(session: Session, pc4s: Sequence[str], box: tuple[float, float, float, float],
           testers_only: bool) -> list[Any]:
    tester = " AND p.is_tester" if testers_only else ""
    rows: list[Any] = []
    if pc4s:
        placeholders, params = _in_list("c", pc4s)
        sql = (f"SELECT {_COLUMNS} WHERE a.pc4 IN ({placeholders}) AND NOT a.exact "
               f"AND {_ACTIVE}{tester}")
        rows.extend(session.execute(text(sql), params).all())
    s, w, n, e = box
    # The partial index is only used when the query repeats its predicate literally.
    exact = "a.exact = 1" if session.get_bind().dialect.name == "sqlite" else "a.exact"
    sql = (f"SELECT {_COLUMNS} WHERE {exact} AND a.lat BETWEEN :s AND :n "
           f"AND a.lon BETWEEN :w AND :e AND {_ACTIVE}{tester}")
    rows.extend(session.execute(text(sql), {"s": s, "n": n, "w": w, "e": e}).all())
    return rows


def _valid_now(rows: Iterable[Any], at: datetime) -> list[Any]:
    out = []
    for r in rows:
        if r.days_mask == 127 and r.start_minute is None:
            out.append(r)
        elif Window(r.days_mask, r.start_minute, r.end_minute).contains(at):
            out.append(r)
    return out


def _candidates(index: Pc4Index, area: Area) -> tuple[list[str], tuple[float, float,
                                                                        float, float]]:
    if isinstance(area, Circle):
        return index.within(area.lat, area.lon, area.radius_m), bbox_around(
            area.lat, area.lon, area.radius_m)
    ring = area.outer
    inside = poly.contains(ring, index.lons, index.lats)
    return [index.rows[i].pc4 for i in np.nonzero(inside)[0]], poly.bbox(ring)


def _distances(area: Area, rows: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    lats = np.fromiter((r.lat for r in rows), dtype=np.float64, count=len(rows))
    lons = np.fromiter((r.lon for r in rows), dtype=np.float64, count=len(rows))
    if isinstance(area, Circle):
        return haversine_many(area.lat, area.lon, lats, lons)
    ring = area.outer
    clat = sum(p[1] for p in ring) / len(ring)
    clon = sum(p[0] for p in ring) / len(ring)
    d = haversine_many(clat, clon, lats, lons)
    # Exact addresses were only boxed: drop those outside the polygon itself.
    return np.where(poly.contains(ring, lons, lats), d, np.inf)


def select_participants(
    session: Session,
    area: Area,
    at: datetime,
    *,
    exclude_e164: frozenset[str] = frozenset(),
    testers_only: bool = False,
    index: Pc4Index | None = None,
) -> Selection:
    idx = index or Pc4Index.load(session)
    pc4s, box = _candidates(idx, area)
    rows = _valid_now(_fetch(session, pc4s, box, testers_only), at)
    if not rows:
        return Selection([])
    dist = _distances(area, rows)
    limit = area.radius_m if isinstance(area, Circle) else np.inf
    best: dict[str, tuple[float, Any]] = {}
    for r, d in zip(rows, dist.tolist(), strict=True):
        if d > limit or d == np.inf or r.e164 in exclude_e164:
            continue
        prev = best.get(r.e164)
        if prev is None or d < prev[0]:
            best[r.e164] = (d, r)
    ordered = sorted(best.values(), key=lambda x: (x[0], x[1].e164))
    entries = [SelectedPhone(r.participant_id, r.e164, r.kind, r.channel_pref, round(d, 1), r.pc4)
               for d, r in ordered]
    return _with_counts(entries)


def _with_counts(entries: list[SelectedPhone]) -> Selection:
    by_channel: dict[str, int] = {"voice": 0, "sms": 0}
    by_pc4: dict[str, int] = {}
    for e in entries:
        if e.channel in ("voice", "both"):
            by_channel["voice"] += 1
        if e.channel in ("sms", "both") and e.phone_kind == "mobile":
            by_channel["sms"] += 1
        by_pc4[e.pc4] = by_pc4.get(e.pc4, 0) + 1
    return Selection(entries, by_channel, by_pc4)
