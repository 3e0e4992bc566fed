"""Who to reach: active, consenting participants whose address (valid at that moment) lies in
the area; one entry per phone number, nearest first.

Non-exact addresses sit on their PC4 centroid, so for them the area test is a test of ~4,000
centroids in memory and the store is only asked ``pc4 IN (...)``. The rare exact addresses are
found through a partial index on latitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.geo import polygon as poly
from engine.geo.distance import bbox_around, haversine_many
from engine.geo.service import Pc4Index
from engine.participants.windows import Window

if TYPE_CHECKING:
    from engine.participants.snapshot import SelectionSnapshot


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Polygon:
    #: Outer ring in GeoJSON order (lon, lat); holes are not supported.
    rings: list[list[tuple[float, float]]]

    def __post_init__(self) -> None:
        # Every caller (API, CLI, benches) gets the same check: a crossing edge makes
        # "inside" ambiguous, so such a polygon is refused rather than guessed at.
        if not self.rings:
            raise poly.InvalidPolygon("a polygon needs an outer ring")
        poly.validate_ring(self.rings[0])

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


class Selection:
    """Selected numbers, nearest first, held as columns; ``entries`` builds objects on demand."""

    def __init__(self, columns: dict[str, list[Any]] | None = None):
        cols = columns or {k: [] for k in _FIELDS}
        self.participant_ids: list[int] = cols["participant_id"]
        self.e164s: list[str] = cols["e164"]
        self.phone_kinds: list[str] = cols["phone_kind"]
        self.channels: list[str] = cols["channel"]
        self.distances_m: list[float] = cols["distance_m"]
        self.pc4s: list[str] = cols["pc4"]
        self._entries: list[SelectedPhone] | None = None

    def __len__(self) -> int:
        return len(self.e164s)

    @property
    def entries(self) -> list[SelectedPhone]:
        if self._entries is None:
            self._entries = [SelectedPhone(*t) for t in zip(
                self.participant_ids, self.e164s, self.phone_kinds, self.channels,
                self.distances_m, self.pc4s, strict=True)]
        return self._entries

    @property
    def participants(self) -> int:
        return len(set(self.participant_ids))

    @property
    def count_by_channel(self) -> dict[str, int]:
        voice = sum(1 for c in self.channels if c != "sms")
        sms = sum(1 for c, k in zip(self.channels, self.phone_kinds, strict=True)
                  if c != "voice" and k == "mobile")
        return {"voice": voice, "sms": sms}

    @property
    def count_by_pc4(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for pc4 in self.pc4s:
            out[pc4] = out.get(pc4, 0) + 1
        return out


_FIELDS = ("participant_id", "e164", "phone_kind", "channel", "distance_m", "pc4")
_COLUMNS = """a.participant_id, a.lat, a.lon, a.pc4, a.days_mask, a.start_minute, a.end_minute,
 p.channel_pref, ph.e164, ph.kind
 FROM address a
 JOIN participant p ON p.id = a.participant_id
 JOIN phone ph ON ph.participant_id = a.participant_id"""
# Column positions in the rows of _COLUMNS (tuple indexing is the fast path).
_PID, _LAT, _LON, _PC4, _DAYS, _START, _END, _CHAN, _E164, _KIND = range(10)
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


def _valid_now(rows: list[Any], at: datetime) -> list[Any]:
    # Most addresses are valid all the time; only the few with a window need a check.
    return [r for r in rows
            if (r[_DAYS] == 127 and r[_START] is None)
            or Window(r[_DAYS], r[_START], r[_END]).contains(at)]


def _candidates(index: Pc4Index, area: Area) -> tuple[list[str], tuple[float, float,
                                                                        float, float]]:
    if isinstance(area, Circle):
        return index.within(area.lat, area.lon, area.radius_m), bbox_around(
            area.lat, area.lon, area.radius_m)
    ring = area.outer
    inside = poly.contains(ring, index.lons, index.lats)
    return [index.rows[i].pc4 for i in np.nonzero(inside)[0]], poly.bbox(ring)


def _distances(area: Area, rows: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    lats = np.fromiter((r[_LAT] for r in rows), dtype=np.float64, count=len(rows))
    lons = np.fromiter((r[_LON] for r in rows), dtype=np.float64, count=len(rows))
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
    snapshot: SelectionSnapshot | None = None,
) -> Selection:
    idx = index or Pc4Index.load(session)
    if snapshot is not None:
        # The same answer from memory; the store's path stays the fallback.
        from engine.participants.snapshot import SnapshotUnavailable

        try:
            return snapshot.select(session, area, at, exclude_e164=exclude_e164,
                                   testers_only=testers_only, index=idx)
        except SnapshotUnavailable:
            pass
    pc4s, box = _candidates(idx, area)
    rows = _valid_now(_fetch(session, pc4s, box, testers_only), at)
    if not rows:
        return Selection()
    dist = _distances(area, rows)
    limit = area.radius_m if isinstance(area, Circle) else np.inf
    # Nearest first; a stable sort keeps the store's (pc4, participant) order among equals,
    # and the first sighting of a number wins.
    order = np.argsort(dist, kind="stable")
    seen: set[str] = set(exclude_e164)
    pids, nums, kinds, chans, dists, pcs = ([] for _ in range(6))
    for i, d in zip(order.tolist(), dist[order].tolist(), strict=True):
        if d > limit or d == np.inf:  # inf: boxed in, but outside the polygon
            break
        r = rows[i]
        num = r[_E164]
        if num in seen:
            continue
        seen.add(num)
        pids.append(r[_PID])
        nums.append(num)
        kinds.append(r[_KIND])
        chans.append(r[_CHAN])
        dists.append(d)
        pcs.append(r[_PC4])
    cols = dict(zip(_FIELDS, (pids, nums, kinds, chans, dists, pcs), strict=True))
    return Selection(cols)
