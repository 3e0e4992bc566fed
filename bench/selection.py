"""Area selection latency at national scale (1.25 million synthetic participants).

A full ``select_participants`` (ids, numbers, distances, nearest first, one entry per number)
for a 5 km circle around Deventer centre (PC4 7411) and a 10 km circle around Amsterdam centre
(PC4 1012), on SQLite and on PostgreSQL, compared with a brute-force numpy scan over every
address coordinate held in memory (arrays loaded once). Stores are cached in var/bench/.
``numpy_snapshot_selection`` sketches the alternative design: all selectable (address, number)
pairs as numpy columns sorted by latitude, a selection being a vectorised scan of its latitude
band with windows, nearest-first order and one entry per number; it checks that it selects
the same numbers as the store. Prints one JSON object as its last line.

    .venv/bin/python bench/selection.py [--quick] [--runs N] [--no-pg]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from common import (
    NATIONAL,
    cached_postgres,
    cached_sqlite,
    emit,
    participation_for,
    pg_unavailable,
    summary_ms,
    timed_ms,
)
from sqlalchemy import text

from engine.geo.distance import bbox_around, haversine_many
from engine.geo.service import Pc4Index
from engine.participants.selection import Circle, select_participants
from engine.participants.windows import NL_TZ
from engine.store.db import make_engine, make_sessionmaker

SCENARIOS = {"deventer_5km": ("7411", 5_000.0, 50.0), "amsterdam_10km": ("1012", 10_000.0, 250.0)}
#: A Tuesday 10:00 in the Netherlands: work addresses count, as in most real actions.
AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
#: The numbers each scenario selected from the store, to check the snapshot sketch against.
REFERENCE: dict[str, list[str]] = {}


def measure_store(url: str, runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        index = Pc4Index.load(s)
    out: dict[str, Any] = {}
    for name, (pc4, radius, bound) in SCENARIOS.items():
        c = index.centroid(pc4)
        area = Circle(c.lat, c.lon, radius)
        samples: list[float] = []
        numbers: list[str] = []
        for _ in range(runs + 2):  # the first two warm the page cache
            with factory() as s:
                ms, sel = timed_ms(select_participants, s, area, AT, index=index)
            samples.append(ms)
            numbers = sel.e164s
        stats = summary_ms(samples[2:])
        out[name] = {**stats, "bound_ms": bound, "ratio": round(stats["p95_ms"] / bound, 3),
                     "numbers": len(numbers)}
        REFERENCE[name] = numbers
    engine.dispose()
    return out


def count_participants(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM participant")).scalar_one())
    engine.dispose()
    return n


def load_arrays(url: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Every address coordinate joined to its phone numbers, as the numpy baseline scans."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT a.lat, a.lon FROM address a "
                                 "JOIN phone ph ON ph.participant_id = a.participant_id")).all()
    engine.dispose()
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].copy(), arr[:, 1].copy()


def measure_numpy(url: str, runs: int, index: Pc4Index) -> dict[str, Any]:
    lats, lons = load_arrays(url)
    out: dict[str, Any] = {"coordinates": len(lats)}
    for name, (pc4, radius, _) in SCENARIOS.items():
        c = index.centroid(pc4)

        def scan(lat: float = c.lat, lon: float = c.lon, r: float = radius) -> int:
            d = haversine_many(lat, lon, lats, lons)
            hit = np.nonzero(d <= r)[0]
            return len(hit[np.argsort(d[hit], kind="stable")])

        samples = [timed_ms(scan)[0] for _ in range(runs)]
        out[name] = {**summary_ms(samples), "hits": scan()}
    return out


_SNAPSHOT_SQL = """SELECT a.lat, a.lon, a.days_mask, coalesce(a.start_minute, -1),
 coalesce(a.end_minute, -1), ph.id, ph.e164 FROM address a
 JOIN participant p ON p.id = a.participant_id
 JOIN phone ph ON ph.participant_id = a.participant_id
 WHERE p.status = 'active' AND p.consent_at IS NOT NULL AND ph.invalid_since IS NULL"""


class Snapshot:
    """A sketch of the alternative to querying per selection: every selectable (address,
    number) pair as numpy columns in memory, so a selection is a vectorised scan."""

    def __init__(self, url: str):
        engine = make_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(text(_SNAPSHOT_SQL)).all()
        engine.dispose()
        rows.sort(key=lambda r: r[0])  # by latitude: a selection only scans its band
        cols = list(zip(*rows, strict=True))
        self.lats, self.lons = (np.array(c, dtype=np.float64) for c in cols[:2])
        self.days, self.start, self.end, self.phone_id = (
            np.array(c, dtype=np.int32) for c in cols[2:6])
        self.e164 = np.array(cols[6], dtype=object)
        self.windowed = (self.days != 127) | (self.start >= 0)

    def select(self, lat: float, lon: float, radius: float, at: datetime) -> list[str]:
        south, _, north, _ = bbox_around(lat, lon, radius)
        lo, hi = np.searchsorted(self.lats, [south, north], side="left")
        d = haversine_many(lat, lon, self.lats[lo:hi], self.lons[lo:hi])
        near = np.nonzero(d <= radius)[0]
        hit = near + lo
        keep = self._valid(hit, at)
        near, hit = near[keep], hit[keep]
        order = hit[np.argsort(d[near], kind="stable")]
        _, first = np.unique(self.phone_id[order], return_index=True)  # nearest per number
        return list(self.e164[order[np.sort(first)]])

    def _valid(self, idx: np.ndarray[Any, Any], at: datetime) -> np.ndarray[Any, Any]:
        local = at.astimezone(NL_TZ)
        day, minute = local.weekday(), local.hour * 60 + local.minute
        w = self.windowed[idx]
        days, start, end = self.days[idx], self.start[idx], self.end[idx]
        on_day = (days >> day) & 1 == 1
        in_time = (start < 0) | ((start <= minute) & (minute < end))
        # (windows past midnight are rare; this sketch treats them as not valid)
        return ~w | (on_day & in_time)


def measure_snapshot(url: str, runs: int, index: Pc4Index,
                     reference: dict[str, list[str]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    snap = Snapshot(url)
    out: dict[str, Any] = {"rows": len(snap.lats),
                           "build_s": round(time.perf_counter() - t0, 1)}
    for name, (pc4, radius, bound) in SCENARIOS.items():
        c = index.centroid(pc4)
        samples = [timed_ms(snap.select, c.lat, c.lon, radius, AT)[0] for _ in range(runs)]
        numbers = snap.select(c.lat, c.lon, radius, AT)
        stats = summary_ms(samples)
        out[name] = {**stats, "bound_ms": bound, "ratio": round(stats["p95_ms"] / bound, 3),
                     "numbers": len(numbers),
                     "same_numbers_as_store": sorted(numbers) == sorted(reference[name])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    help="national density, but only around Deventer and Amsterdam")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    runs = args.runs or (5 if args.quick else 30)
    # Quick runs keep the national density around both centres, so latencies compare with
    # the bounds; only the numpy baseline scans fewer coordinates than nationally.
    p, regional = participation_for(NATIONAL), args.quick
    sqlite_url = cached_sqlite(p, regional=regional)
    result: dict[str, Any] = {"bench": "selection", "quick": args.quick, "regional": regional,
                              "participants": count_participants(sqlite_url), "runs": runs}
    result["sqlite"] = measure_store(sqlite_url, runs)
    reason = "skipped (--no-pg)" if args.no_pg else pg_unavailable()
    if reason:
        result["postgresql"] = {"skipped": reason}
    else:
        with cached_postgres(p, regional=regional) as pg_url:
            result["postgresql"] = measure_store(pg_url, runs)
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        index = Pc4Index.load(s)
    engine.dispose()
    result["numpy_bruteforce"] = measure_numpy(sqlite_url, runs, index)
    result["numpy_snapshot_selection"] = measure_snapshot(sqlite_url, runs, index, REFERENCE)
    result["db_vs_numpy"] = {
        store: {name: round(result[store][name]["p50_ms"]
                            / result["numpy_bruteforce"][name]["p50_ms"], 2)
                for name in SCENARIOS}
        for store in ("sqlite", "postgresql") if "skipped" not in result[store]}
    emit(result)


if __name__ == "__main__":
    main()
