"""Shared bench plumbing: the national synthetic population, cached stores, timing helpers.

Generated stores are cached under ``var/bench/`` keyed by their parameters (participation and
seed), so a rerun measures instead of loading again. A PostgreSQL cluster is kept as a data
directory there too and started on a free port when needed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.embedded import free_port  # noqa: E402
from engine.geo.distance import haversine_m  # noqa: E402
from engine.geo.importer import import_pc4_file  # noqa: E402
from engine.geo.models import Pc4Area  # noqa: E402
from engine.participants.synth import SynthConfig, generate  # noqa: E402
from engine.store.db import analyze, make_engine, make_sessionmaker  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402

PC4_CSV = (REPO / ".." / "shared" / "data" / "geo" / "nl_pc4.csv").resolve()
CACHE = REPO / "var" / "bench"
NATIONAL = 1_250_000
SEED = 2013


def total_residents() -> int:
    with PC4_CSV.open(encoding="utf-8") as fh:
        return sum(int(r["residents"]) for r in csv.DictReader(fh) if r["residents"])


def participation_for(participants: int) -> float:
    """Participation that makes residents × p ≈ ``participants`` nationally."""
    return participants / total_residents()


#: Quick runs keep the national density but only around the bench's two centres.
QUICK_CENTRES = (("7411", 6_000.0), ("1012", 11_000.0))


def load_store(url: str, participation: float, seed: int = SEED, *,
               regional: bool = False) -> int:
    """Migrate, import the PC4 table and generate the population; returns participants.

    ``regional`` generates participants only in PC4 areas near :data:`QUICK_CENTRES`.
    """
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s, s.begin():
        import_pc4_file(s, PC4_CSV)
    with factory() as s:
        areas = list(s.query(Pc4Area).order_by(Pc4Area.pc4))
    if regional:
        by_pc4 = {a.pc4: a for a in areas}
        areas = [a for a in areas if any(
            haversine_m(by_pc4[c].lat, by_pc4[c].lon, a.lat, a.lon) <= r
            for c, r in QUICK_CENTRES)]
    with engine.begin() as conn:
        n = generate(conn, areas, SynthConfig(participation=participation, seed=seed))
    analyze(engine)
    engine.dispose()
    return n


def cache_key(participation: float, seed: int = SEED, regional: bool = False) -> str:
    region = "-near-" + "-".join(f"{c}r{r:.0f}" for c, r in QUICK_CENTRES) if regional else ""
    return f"p{participation:.6f}-s{seed}{region}"


def sqlite_path(participation: float, seed: int = SEED, regional: bool = False) -> Path:
    return CACHE / f"sqlite-{cache_key(participation, seed, regional)}.db"


def cached_sqlite(participation: float, seed: int = SEED, regional: bool = False) -> str:
    """URL of the cached SQLite store, built (atomically) when missing."""
    path = sqlite_path(participation, seed, regional)
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        load_store(f"sqlite:///{tmp}", participation, seed, regional=regional)
        tmp.rename(path)
    return f"sqlite:///{path}"


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def pg_unavailable() -> str:
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        return "running as root and there is no 'postgres' user"
    return ""


@contextmanager
def cached_postgres(participation: float, seed: int = SEED,
                    regional: bool = False) -> Iterator[str]:
    """A PostgreSQL cluster whose data directory is cached in var/bench, loaded once."""
    root = CACHE / f"pg-{cache_key(participation, seed, regional)}"
    data, ready = root / "data", root / "loaded"
    if root.exists() and not ready.exists():
        shutil.rmtree(root)  # an earlier load was interrupted
    fresh = not root.exists()
    if fresh:
        root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        subprocess.run(_as_postgres(["initdb", "-D", str(data), "-U", "bnet", "--auth=trust",
                                     "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    port = free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-o", opts, "-l",
                                 str(root / "log"), "-w", "start"]), check=True,
                   capture_output=True)
    url = f"postgresql+psycopg://bnet@127.0.0.1:{port}/bnet"
    try:
        if fresh:
            subprocess.run(_as_postgres(["createdb", "-h", "127.0.0.1", "-p", str(port), "-U",
                                         "bnet", "bnet"]), check=True, capture_output=True)
            load_store(url, participation, seed, regional=regional)
            ready.touch()
        yield url
    finally:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "min_ms": round(min(samples), 2)}


def timed_ms(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return (time.perf_counter() - t0) * 1000, out


def emit(result: dict[str, Any]) -> None:
    """The one JSON object a bench prints as its last line."""
    print(json.dumps(result, sort_keys=False))
