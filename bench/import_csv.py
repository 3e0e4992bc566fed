"""CSV import throughput into SQLite: rows per second through ``import_csv``.

Generates a file of synthetic rows (Dutch headers, ``;``, BOM, a few bad rows and work
addresses with time windows as a real export has them), imports it into a fresh migrated store
with the PC4 table, and reports rows/s. ``--profile`` prints where the time goes.
Prints one JSON object as its last line.

    .venv/bin/python bench/import_csv.py [--quick] [--rows N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import random
import resource
import tempfile
import time
from pathlib import Path

from common import CACHE, PC4_CSV, emit

from engine.geo.importer import import_pc4_file
from engine.geo.service import Pc4Index
from engine.participants.csv_import import import_csv
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade

BOUND_ROWS_PER_S = 20_000.0
HEADER = ["referentie", "naam", "telefoon", "postcode", "huisnummer", "kanaal", "tijdvenster",
          "postcode_werk"]


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    """Synthetic rows; about 1 in 500 is bad (unknown postcode or malformed number)."""
    rng = random.Random(seed)
    with PC4_CSV.open(encoding="utf-8") as fh:
        pc4s = [r["pc4"] for r in csv.DictReader(fh)]
    bad = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(HEADER)
        for i in range(rows):
            # Landlines run through area codes per million rows: no repeats in a 100 MB file.
            area = ("010", "020", "030", "040", "050", "070")[i // 1_000_000 % 6]
            phone = f"0970 0{i:07d}" if i % 5 else f"{area} 0{i % 1_000_000:06d}"
            postcode = f"{rng.choice(pc4s)} {chr(65 + i % 26)}{chr(65 + i // 26 % 26)}"
            if i % 500 == 499:
                bad += 1
                phone, postcode = ("06-12", postcode) if i % 1000 == 999 else (phone, "1000 AA")
            work = rng.choice(pc4s) if i % 12 == 0 else ""
            w.writerow([f"B{i}", f"Deelnemer {i}", phone, postcode, str(1 + i % 300),
                        ("beide", "sms", "spraak")[i % 3], "", work])
    return bad


def fresh_store(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'import.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s, s.begin():
        import_pc4_file(s, PC4_CSV)
    engine.dispose()
    return url


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20,000 rows instead of 200,000")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="rows per transaction")
    ap.add_argument("--no-reimport", action="store_true",
                    help="skip the second (idempotent) run, e.g. for a 100 MB file")
    ap.add_argument("--workers", type=int, default=None,
                    help="checking processes beside the writer (default: the import's choice)")
    args = ap.parse_args()
    rows = args.rows or (20_000 if args.quick else 200_000)
    CACHE.mkdir(parents=True, exist_ok=True)
    csv_path = CACHE / f"import-{rows}.csv"
    bad = write_csv(csv_path, rows)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        engine = make_engine(fresh_store(Path(tmp)))
        factory = make_sessionmaker(engine)
        with factory() as s:
            index = Pc4Index.load(s)
        prof = cProfile.Profile() if args.profile else None
        t0, c0, w0 = time.perf_counter(), time.process_time(), _children_cpu()
        if prof:
            prof.enable()
        batch = {"batch": args.batch} if args.batch else {}
        report = import_csv(factory, csv_path, index, workers=args.workers, **batch)
        if prof:
            prof.disable()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        worker_cpu = _children_cpu() - w0  # the checking processes, reaped when the run ends
        t1 = time.perf_counter()
        # Idempotent: the second run finds everything unchanged.
        again = None if args.no_reimport else import_csv(factory, csv_path, index,
                                                         workers=args.workers, **batch)
        reimport_s = time.perf_counter() - t1
        engine.dispose()
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(40)
    rate = rows / seconds
    emit({"bench": "import_csv_sqlite", "rows": rows, "accepted": report.accepted,
          "rejected": report.rejected, "expected_rejected": bad, "seconds": round(seconds, 2),
          # CPU time of this process: on a busy machine wall time also counts others' work.
          "cpu_s": round(cpu, 2), "rows_per_cpu_s": round(rows / cpu),
          "rows_per_s": round(rate), "bound_rows_per_s": BOUND_ROWS_PER_S,
          "ratio": round(rate / BOUND_ROWS_PER_S, 3), "profiled": bool(prof),
          "workers": "default" if args.workers is None else args.workers,
          "worker_cpu_s": round(worker_cpu, 2),
          "file_mb": round(csv_path.stat().st_size / 1e6, 1),
          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
          "reimport_unchanged": again.unchanged if again else None,
          "reimport_rows_per_s": round(rows / reimport_s) if again else None})


if __name__ == "__main__":
    main()
