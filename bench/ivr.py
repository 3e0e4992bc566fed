"""Inbound callback latency: how long a caller waits in the IVR before the queue.

Measures, over TCP against a migrated SQLite store with many participants and actions, the time
from the moment Asterisk sends the AGI environment until the FastAGI server closes the socket
(AGI() returns and the dialplan runs Queue()), for callers linked to a running action, with
many calls at once.  Prints one JSON object as its last line.

    .venv/bin/python bench/ivr.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.ivr.callback import make_callback_route
from engine.ivr.server import FastAgiServer
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade
from tests.ivr_support import (
    PeerScript,
    add_action,
    add_participant,
    add_target,
    inbound_env,
    run_peer,
)

#: A caller should join the queue within half a second even when 20 call in the same instant.
BOUND_P95_MS = 500.0


def seed(url: str, participants: int, actions: int) -> list[str]:
    factory = make_sessionmaker(make_engine(url))
    numbers = [f"+316{10_000_000 + i:08d}" for i in range(participants)]
    with factory() as s, s.begin():
        acts = [add_action(s) for _ in range(actions)]
        for i, number in enumerate(numbers):
            person = add_participant(s, number)
            add_target(s, acts[i % actions], number, person)
    return numbers


async def one_call(port: int, number: str, uid: str) -> float:
    start = time.perf_counter()
    await run_peer(port, PeerScript(inbound_env("0" + number[3:], uid)))
    return (time.perf_counter() - start) * 1000


async def measure(url: str, numbers: list[str], calls: int, concurrency: int) -> list[float]:
    factory = make_sessionmaker(make_engine(url))
    server = FastAgiServer({"callback": make_callback_route(factory)}, port=0)
    await server.start()
    sem = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> float:
        async with sem:
            return await one_call(server.port, numbers[i % len(numbers)], f"1795.{i}")

    try:
        return list(await asyncio.gather(*(limited(i) for i in range(calls))))
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    participants, calls, concurrency = (2_000, 200, 20) if args.quick else (20_000, 1_000, 20)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        numbers = seed(url, participants, actions=20)
        single = asyncio.run(measure(url, numbers, 50, 1))
        latencies = asyncio.run(measure(url, numbers, calls, concurrency))
    p95 = statistics.quantiles(latencies, n=100)[94]
    print(
        json.dumps(
            {
                "bench": "ivr_callback_to_queue",
                "calls": calls,
                "concurrency": concurrency,
                "participants": participants,
                "single_call_p50_ms": round(statistics.median(single), 1),
                "p50_ms": round(statistics.median(latencies), 1),
                "p95_ms": round(p95, 1),
                "bound_p95_ms": BOUND_P95_MS,
                "ratio": round(p95 / BOUND_P95_MS, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
