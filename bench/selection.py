"""Area selection latency at national scale (1.25 million synthetic participants).

A full ``select_participants`` (ids, numbers, distances, nearest first, one entry per number)
for a 5 km circle around Deventer centre (PC4 7411) and a 10 km circle around Amsterdam centre
(PC4 1012), three ways: the store's join on SQLite and on PostgreSQL, and the headline, the
in-memory ``SelectionSnapshot`` (its build time, RSS growth and per-selection latency including
the change-log check; it must return exactly the store's rows), plus a brute-force numpy scan
over every address coordinate as a floor. Stores are cached in var/bench/ (and migrated to
head, for the change log). Prints one JSON object as its last line.

    .venv/bin/python bench/selection.py [--quick] [--runs N] [--no-pg]
"""

from __future__ import annotations

import argparse
import gc
import os
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

from engine.geo.distance import haversine_many
from engine.geo.service import Pc4Index
from engine.participants.selection import Circle, Selection, select_participants
from engine.participants.snapshot import SelectionSnapshot
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade

SCENARIOS = {"deventer_5km": ("7411", 5_000.0, 50.0), "amsterdam_10km": ("1012", 10_000.0, 250.0)}
#: A Tuesday 10:00 in the Netherlands: work addresses count, as in most real actions.
AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
#: What each scenario selected from each store, to check the snapshot against.
REFERENCE: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
MEMORY_BOUND_MB = 300.0


def measure_store(url: str, runs: int) -> dict[str, Any]:
    upgrade(url)  # cached stores may predate the change log (migration 0005)
    REFERENCE[url] = {}
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        index = Pc4Index.load(s)
    out: dict[str, Any] = {}
    for name, (pc4, radius, bound) in SCENARIOS.items():
        c = index.centroid(pc4)
        area = Circle(c.lat, c.lon, radius)
        samples: list[float] = []
        sel = Selection()
        for _ in range(runs + 2):  # the first two warm the page cache
            with factory() as s:
                ms, sel = timed_ms(select_participants, s, area, AT, index=index)
            samples.append(ms)
        stats = summary_ms(samples[2:])
        out[name] = {**stats, "bound_ms": bound, "ratio": round(stats["p95_ms"] / bound, 3),
                     "numbers": len(sel)}
        REFERENCE[url][name] = _rows(sel)
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


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_snapshot(url: str, runs: int, index: Pc4Index,
                     reference: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """The production path: ``SelectionSnapshot`` (built once, then a change-log check and a
    scan of the area's PC4 slices per selection), checked row for row against the store."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    gc.collect()
    rss0, t0 = rss_mb(), time.perf_counter()
    snap = SelectionSnapshot()
    with factory() as s:
        snap.refresh(s)
    gc.collect()
    out: dict[str, Any] = {
        "rows": len(snap.base) if snap.base is not None else 0,
        "build_s": round(time.perf_counter() - t0, 1),
        "rss_delta_mb": round(rss_mb() - rss0, 1),
        "columns_mb": round(snap.memory_bytes() / 2**20, 1),
        "memory_bound_mb": MEMORY_BOUND_MB}
    for name, (pc4, radius, bound) in SCENARIOS.items():
        c = index.centroid(pc4)
        area = Circle(c.lat, c.lon, radius)
        samples: list[float] = []
        for _ in range(runs):
            with factory() as s:
                ms, sel = timed_ms(select_participants, s, area, AT, index=index,
                                   snapshot=snap)
            samples.append(ms)
        stats = summary_ms(samples)
        rows = _rows(sel)
        out[name] = {**stats, "bound_ms": bound, "ratio": round(stats["p95_ms"] / bound, 3),
                     "numbers": len(sel),
                     "same_as_store": (rows == reference[name] if url.startswith("sqlite")
                                       else sorted(rows) == sorted(reference[name]))}
    out["builds"] = snap.builds
    engine.dispose()
    return out


def _rows(sel: Selection) -> list[tuple[Any, ...]]:
    return list(zip(sel.participant_ids, sel.e164s, sel.phone_kinds, sel.channels,
                    sel.distances_m, sel.pc4s, strict=True))


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
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        index = Pc4Index.load(s)
    engine.dispose()
    # The headline: selection from the in-memory snapshot, built from the SQLite store.
    result["snapshot"] = measure_snapshot(sqlite_url, runs, index, REFERENCE[sqlite_url])
    if reason:
        result["postgresql"] = {"skipped": reason}
    else:
        with cached_postgres(p, regional=regional) as pg_url:
            result["postgresql"] = measure_store(pg_url, runs)
            result["snapshot_postgresql"] = measure_snapshot(pg_url, runs, index,
                                                             REFERENCE[pg_url])
    result["numpy_bruteforce"] = measure_numpy(sqlite_url, runs, index)
    result["store_vs_snapshot"] = {
        store: {name: round(result[store][name]["p50_ms"] / result["snapshot"][name]["p50_ms"], 1)
                for name in SCENARIOS}
        for store in ("sqlite", "postgresql") if "skipped" not in result[store]}
    snap = result["snapshot"]
    result["headline"] = {name: {"p95_ms": snap[name]["p95_ms"], "bound_ms": snap[name]["bound_ms"],
                                 "ratio": snap[name]["ratio"]} for name in SCENARIOS}
    result["headline"]["memory"] = {"rss_delta_mb": snap["rss_delta_mb"],
                                    "bound_mb": MEMORY_BOUND_MB,
                                    "ratio": round(snap["rss_delta_mb"] / MEMORY_BOUND_MB, 3)}
    emit(result)


if __name__ == "__main__":
    main()
