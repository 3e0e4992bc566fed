"""Loading the national synthetic population (1.25 million participants) into a fresh SQLite.

The load (migrate, PC4 import, synth, ANALYZE) runs in a child process so that its peak RSS
can be read with ``getrusage(RUSAGE_CHILDREN)``. The loaded store is kept in ``var/bench/`` for
``bench/selection.py``. Prints one JSON object as its last line.

    .venv/bin/python bench/load.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import CACHE, NATIONAL, SEED, emit, load_store, participation_for, sqlite_path

BOUND_S = 120.0
BOUND_RSS_MB = 1536.0


def child(db: Path, participation: float) -> None:
    t0 = time.perf_counter()
    n = load_store(f"sqlite:///{db}", participation, SEED)
    print(json.dumps({"participants": n, "seconds": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1/20 of the national population")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--participation", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.participation)
        return
    target = NATIONAL // 20 if args.quick else NATIONAL
    p = participation_for(target)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        db = Path(tmp) / "load.db"
        out = subprocess.run([sys.executable, __file__, "--child", str(db), "--participation",
                              repr(p)], check=True, capture_output=True, text=True).stdout
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        measured = json.loads(out.strip().splitlines()[-1])
        cache = sqlite_path(p)
        if not cache.exists():  # keep the freshly loaded store for bench/selection.py
            cache.parent.mkdir(parents=True, exist_ok=True)
            db.rename(cache)
    seconds = measured["seconds"]
    emit({
        "bench": "load_sqlite", "quick": args.quick, "participation": round(p, 6),
        "participants": measured["participants"], "seconds": round(seconds, 1),
        "bound_s": BOUND_S if not args.quick else round(BOUND_S / 20, 1),
        "ratio": round(seconds / (BOUND_S if not args.quick else BOUND_S / 20), 3),
        "participants_per_s": round(measured["participants"] / seconds),
        "peak_rss_mb": round(rss_mb, 1), "rss_bound_mb": BOUND_RSS_MB,
        "rss_ratio": round(rss_mb / BOUND_RSS_MB, 3),
    })


if __name__ == "__main__":
    main()
