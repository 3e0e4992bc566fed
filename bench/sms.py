"""SMPP sender benchmarks against the SMSC simulator (run as its own process), one JSON line last.

    .venv/bin/python bench/sms.py [--quick]

* ``submits_per_s``: single-segment SMS over ONE bind with window 50 and no TPS cap, sustained
  (after the first 5% of responses) to the last submit_sm_resp, delivery receipts flowing back
  and acknowledged as in production (target >= 1,000/s).
* ``capped_rate_per_s``: 4 binds with max_tps 250 each (target within 2% of 1,000/s).
* ``peer_limited_ratio``: one uncapped bind against a simulator that allows only 800/s and
  answers ESME_RTHROTTLED above it: the rate achieved through back-off and resend, against
  that limit (nothing may be lost).
* ``service_delivered_per_s``: the whole SMS service (claim, submit, record, receipts, dossier)
  from queued to delivered rows on a fresh SQLite store (informative, no bound).
* ``dlr_map_mb``: memory of 100,000 outstanding message-id -> SMS mappings (target <= 100 MB).
* The simulator and this client share the machine's cores; ``simulator_cpu`` is the share of
  one core the simulator process used during the run: near 1.0 means it was the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.smpp.dlr import DlrTracker
from engine.smpp.encoding import segment
from engine.smpp.jobs import DeliveryReport, Event, Rejected, SubmitJob, Submitted, Uncertain
from engine.smpp.pool import SmscPool
from engine.smpp.settings import SmscSettings

REPO = Path(__file__).resolve().parents[1]
#: The simulator's own submit limit in the third run (it answers ESME_RTHROTTLED above it).
PEER_LIMIT = 800.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Simulator:
    def __init__(self, tps: float | None = None) -> None:
        self.port = _free_port()
        cmd = [sys.executable, "-m", "engine.sim.smsc", "--port", str(self.port)]
        if tps is not None:
            cmd += ["--tps", str(tps)]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "listening on ..."

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def run_load(
    port: int, count: int, *, binds: int, window: int, max_tps: float | None
) -> dict[str, Any]:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    settings = SmscSettings(
        name="bench", port=port, binds=binds, window=window, max_tps=max_tps, response_timeout_s=30
    )
    pool = SmscPool([settings], events.put)
    while pool.links["bench"].bound() < binds:
        events.get(timeout=10)
    parts = segment("Burgernet: man, rode jas, fiets. Gezien? Bel 0800-0011.")
    start = time.perf_counter()
    for i in range(count):
        pool.submit(SubmitJob(i, f"+3161{i % 10_000_000:07d}", parts))
    done = failed = receipts = 0
    first_done = last_done = warm_at = 0.0
    # The first 5% ride on the burst each token bucket saved up while idle: not "sustained".
    warmup = max(1, count // 20)
    while done + failed < count:
        event = events.get(timeout=30)
        if isinstance(event, Submitted):
            done += 1
            last_done = time.perf_counter()
            first_done = first_done or last_done
            if done == warmup:
                warm_at = last_done
        elif isinstance(event, (Rejected, Uncertain)):
            failed += 1
        elif isinstance(event, DeliveryReport):
            receipts += 1
            event.ack()
    # Sustained rate: from the end of the warm-up to the last submit_sm_resp.
    elapsed = last_done - warm_at
    pool.stop()
    return {
        "count": count,
        "submitted": done,
        "failed": failed,
        "receipts": receipts,
        "elapsed_s": round(elapsed, 3),
        "setup_s": round(first_done - start, 3),
        "rate": (done - warmup) / elapsed if elapsed else 0.0,
    }


def dlr_map_mb(n: int = 100_000) -> float:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    tracker = DlrTracker()
    for i in range(n):
        tracker.register("operator-a", i, [format(0x5F2C1A9E + i, "x")])
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(tracker) == n
    return size / 1e6


def service_rate(port: int, count: int) -> float:
    """Queued rows -> delivered rows through the whole SmsService on a fresh SQLite store."""
    from sqlalchemy import func, select

    from engine.actions.models import SmsMessage
    from engine.config import Settings
    from engine.smpp.service import SmsService
    from engine.smpp.settings import SmppSettings
    from engine.store.db import make_engine, make_sessionmaker, transaction
    from engine.store.migrate import upgrade

    url = f"sqlite:///{tempfile.mkdtemp(prefix='bnet-sms-bench-')}/bench.db"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as session:
        session.execute(
            insert(SmsMessage),
            [
                {
                    "e164": f"+3161{i:07d}",
                    "purpose": "alert",
                    "text": "Burgernet: test " + str(i),
                    "state": "queued",
                    "smsc_ids": [],
                }
                for i in range(count)
            ],
        )
    smsc = SmscSettings(name="bench", port=port, window=50)
    settings = Settings(smpp=SmppSettings(smscs=[smsc], poll_s=0.2, node="bench"))
    service = SmsService(settings, factory)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    start = time.perf_counter()
    thread.start()
    done = 0
    while done < count and time.perf_counter() - start < 300:
        time.sleep(0.2)
        with transaction(factory) as session:
            done = session.scalar(select(func.count()).where(SmsMessage.state == "delivered")) or 0
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join(30)
    return done / elapsed


def measure(port_sim: Simulator, count: int, **kw: Any) -> dict[str, Any]:
    cpu0, t0 = port_sim.cpu(), time.perf_counter()
    result = run_load(port_sim.port, count, **kw)
    result["simulator_cpu"] = round((port_sim.cpu() - cpu0) / (time.perf_counter() - t0), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="scaled-down run (< 30 s)")
    args = parser.parse_args()
    single_n, capped_n = (6_000, 3_000) if args.quick else (100_000, 60_000)
    sim = Simulator()
    try:
        single = measure(sim, single_n, binds=1, window=50, max_tps=None)
        capped = measure(sim, capped_n, binds=4, window=50, max_tps=250.0)
    finally:
        sim.stop()
    plain_sim = Simulator()
    try:
        service = service_rate(plain_sim.port, 1_500 if args.quick else 20_000)
    finally:
        plain_sim.stop()
    limited_sim = Simulator(tps=PEER_LIMIT)
    try:
        limited = measure(limited_sim, capped_n // 2, binds=1, window=50, max_tps=None)
    finally:
        limited_sim.stop()
    memory = dlr_map_mb()
    cap_total = 4 * 250.0
    print(json.dumps({k: v for k, v in single.items() if k != "rate"}, separators=(",", ":")))
    print(json.dumps({k: v for k, v in capped.items() if k != "rate"}, separators=(",", ":")))
    result = {
        "submits_per_s": round(single["rate"], 1),
        "submits_bound": 1000.0,
        "submits_ratio": round(single["rate"] / 1000.0, 3),
        "single_bind_window": 50,
        "single_count": single_n,
        "simulator_cpu_single": single["simulator_cpu"],
        "simulator_bound": single["simulator_cpu"] >= 0.9,
        "capped_rate_per_s": round(capped["rate"], 1),
        "capped_target_per_s": cap_total,
        "capped_ratio": round(capped["rate"] / cap_total, 4),
        "capped_within_2pct": abs(capped["rate"] / cap_total - 1) <= 0.02,
        "peer_limit_per_s": PEER_LIMIT,
        "peer_limited_rate_per_s": round(limited["rate"], 1),
        "peer_limited_ratio": round(limited["rate"] / PEER_LIMIT, 3),
        "peer_limited_throttled_lost": limited["failed"],
        "service_delivered_per_s": round(service, 1),
        "dlr_map_mb": round(memory, 1),
        "dlr_map_bound_mb": 100.0,
        "dlr_map_ratio": round(memory / 100.0, 3),
        "failed": single["failed"] + capped["failed"] + limited["failed"],
        "cores": os.cpu_count(),
        "quick": args.quick,
    }
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
