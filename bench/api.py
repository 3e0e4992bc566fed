"""HTTP hook benchmark: create-to-first-attempt, SSE latency, 200 concurrent clients.

Against one uvicorn worker (a subprocess) on a SQLite store with synthetic participants
(1.25 million; ``--quick``: 100,000), and a private redis-server:

1. POST /v1/actions for a 5 km circle in Deventer, 50 times: time from sending the request to
   the dialer's wake-up (``bnet:dialer:wake``) with the first CallAttempt row readable
   (bound: p95 ≤ 150 ms).
2. SSE: time from a committed change + progress message to the event on the stream
   (bound: p95 ≤ 100 ms).
3. 200 concurrent clients (half SSE streams, half GET loops): no errors.

The participant store is built once and cached under var/bench/. Prints one JSON object as
its last line.

    .venv/bin/python bench/api.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis as redis_lib

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.api.auth import create_token  # noqa: E402 - after the sys.path line
from engine.embedded import free_port, port_open, start_redis  # noqa: E402
from engine.store.db import analyze, make_engine, make_sessionmaker  # noqa: E402

BOUND_CREATE_P95_MS = 150.0
BOUND_SSE_P95_MS = 100.0
GEO = REPO / ".." / "shared" / "data" / "geo" / "nl_pc4.csv"
#: Deventer PC4 centroids; each action centres on one of them (5 km covers the city).
CENTRES = [(52.2524, 6.1595), (52.2636, 6.1415), (52.2614, 6.1592), (52.2582, 6.1735),
           (52.2547, 6.1802), (52.2490, 6.1429)]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build_store(path: Path, participants: int) -> None:
    """Migrated store + PC4 table + synthetic participants (cached between runs)."""
    from sqlalchemy import func, select

    from engine.geo.importer import import_pc4_file
    from engine.geo.models import Pc4Area
    from engine.participants.synth import SynthConfig, generate
    from engine.store.migrate import upgrade

    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    url = f"sqlite:///{tmp}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s, s.begin():
        import_pc4_file(s, GEO.resolve())
    with factory() as s:
        areas = list(s.scalars(select(Pc4Area).order_by(Pc4Area.pc4)))
        residents = s.scalar(select(func.sum(Pc4Area.residents))) or 1
    cfg = SynthConfig(participation=participants / residents, seed=2013)
    t0 = time.monotonic()
    with engine.begin() as conn:
        n = generate(conn, areas, cfg)
    analyze(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    tmp.rename(path)
    log(f"built {n} synthetic participants in {time.monotonic() - t0:.0f} s")


def prepare(workdir: Path, participants: int, cache_dir: Path) -> tuple[str, dict[str, str]]:
    cache = cache_dir / f"api-{participants}.db"
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.exists():
        build_store(cache, participants)
    db = workdir / "bnet.db"
    shutil.copyfile(cache, db)
    url = f"sqlite:///{db}"
    from engine.store.migrate import upgrade

    upgrade(url)  # a store cached by an older version gets the newer migrations
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s, s.begin():
        secret = create_token(s, name="bench", role="admin", region="*").secret
    engine.dispose()
    return url, {"Authorization": f"Bearer {secret}"}


def start_api(workdir: Path, url: str, redis_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = workdir / "bnet.toml"
    cfg.write_text(f'[store]\nurl = "{url}"\n[redis]\nurl = "{redis_url}"\nembedded = false\n'
                   f'[api]\nport = {port}\n', encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BNET_")},
           "BNET_CONFIG": str(cfg)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "engine.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
         "--backlog", "4096", "--timeout-graceful-shutdown", "2"], cwd=REPO, env=env)
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def body(i: int) -> dict[str, Any]:
    lat, lon = CENTRES[i % len(CENTRES)]
    return {"kind": "suspect", "channels": "both", "area": {"radius_m": 5000},
            "location": {"lat": lat, "lon": lon},
            "signalement": f"Gezocht (bench {i}): man, ongeveer 30 jaar, rode jas, zwarte fiets."}


class WakeListener:
    """What the dialer sees: ``bnet:dialer:wake`` messages, timestamped on arrival."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis_lib.Redis.from_url(redis_url)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe("bnet:dialer:wake")
        self.pubsub.get_message(timeout=1)  # subscription confirmation
        self.seen: queue.Queue[tuple[str, float]] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self.pubsub.listen():
                if message["type"] == "message":
                    self.seen.put((message["data"].decode(), time.perf_counter()))
        except (redis_lib.ConnectionError, ValueError):
            return  # closed at the end of the run

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()

    def wait_for(self, action_id: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            aid, at = self.seen.get(timeout=max(0.01, deadline - time.monotonic()))
            if aid == action_id:
                return at


def bench_create(base: str, headers: dict[str, str], redis_url: str, db: str, n: int
                 ) -> dict[str, Any]:
    wakes = WakeListener(redis_url)
    reader = sqlite3.connect(db.split("///", 1)[1])
    latencies, responses, sizes = [], [], []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for i in range(-3, n):  # three warm-up actions
            t0 = time.perf_counter()
            r = http.post("/v1/actions", json=body(i))
            t_resp = time.perf_counter()
            r.raise_for_status()
            aid = r.json()["id"]
            t_wake = wakes.wait_for(aid)
            visible = reader.execute("SELECT count(*) FROM call_attempt WHERE action_id = ?",
                                     (aid,)).fetchone()[0]
            if visible == 0:
                raise RuntimeError("woken, but no call attempt is readable")
            if i >= 0:
                latencies.append((t_wake - t0) * 1000)
                responses.append((t_resp - t0) * 1000)
                sizes.append(r.json()["wave"]["targets"])
            http.post(f"/v1/actions/{aid}/cancel")  # keep the dialer queue realistic
    reader.close()
    wakes.close()
    p95 = pct(latencies, 0.95)
    return {"actions": n, "targets_per_action": int(sum(sizes) / len(sizes)),
            "p50_ms": round(pct(latencies, 0.5), 1), "p95_ms": round(p95, 1),
            "response_p95_ms": round(pct(responses, 0.95), 1),
            "bound_ms": BOUND_CREATE_P95_MS, "ratio": round(p95 / BOUND_CREATE_P95_MS, 3)}


def bench_sse(base: str, headers: dict[str, str], redis_url: str, db: str, rounds: int
              ) -> dict[str, Any]:
    from engine.actions import progress

    redis = redis_lib.Redis.from_url(redis_url)
    writer = sqlite3.connect(db.split("///", 1)[1], timeout=30)
    events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        aid = http.post("/v1/actions", json=body(0)).json()["id"]
        ids = [row[0] for row in writer.execute(
            "SELECT id FROM call_attempt WHERE action_id = ? ORDER BY rank", (aid,))]

        def read() -> None:
            try:
                with http.stream("GET", f"/v1/actions/{aid}/events") as stream:
                    for line in stream.iter_lines():
                        if line.startswith("data:"):
                            events.put((time.perf_counter(), json.loads(line[5:])))
            except httpx.HTTPError:
                return  # the client closed the stream when the measurement ended

        threading.Thread(target=read, daemon=True).start()
        events.get(timeout=10)  # the first event comes at once
        while redis.execute_command("PUBSUB", "NUMPAT") < 1:
            time.sleep(0.01)
        latencies = []
        for i in range(rounds):
            writer.execute("UPDATE call_attempt SET state = 'answered', answered_at = "
                           "CURRENT_TIMESTAMP WHERE id = ?", (ids[i],))
            writer.commit()
            t0 = time.perf_counter()
            progress.publish(redis, aid, {"kind": "call", "state": "answered"})
            while True:
                at, data = events.get(timeout=10)
                if data["answered"] == i + 1:
                    latencies.append((at - t0) * 1000)
                    break
            time.sleep(0.05)
    writer.close()
    p95 = pct(latencies, 0.95)
    return {"events": rounds, "p50_ms": round(pct(latencies, 0.5), 1), "p95_ms": round(p95, 1),
            "bound_ms": BOUND_SSE_P95_MS, "ratio": round(p95 / BOUND_SSE_P95_MS, 3)}


async def bench_clients(base: str, headers: dict[str, str], redis_url: str, db: str,
                        clients: int, seconds: float) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from engine.actions import progress

    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    errors: list[str] = []
    counters = {"get": 0, "sse_events": 0}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=limits) as http:
        aid = (await http.post("/v1/actions", json=body(1))).json()["id"]
        stop = time.monotonic() + seconds

        async def sse() -> None:
            try:
                async with http.stream("GET", f"/v1/actions/{aid}/events") as stream:
                    if stream.status_code != 200:
                        errors.append(f"sse {stream.status_code}")
                        return
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            counters["sse_events"] += 1
                        if time.monotonic() > stop:
                            return
            except Exception as exc:  # counted and reported
                errors.append(f"sse {type(exc).__name__}")

        async def getter(i: int) -> None:
            paths = [f"/v1/actions/{aid}", "/v1/actions?limit=20", "/v1/health"]
            while time.monotonic() < stop:
                try:
                    r = await http.get(paths[i % len(paths)])
                    if r.status_code != 200:
                        errors.append(f"get {r.status_code}")
                    counters["get"] += 1
                except Exception as exc:
                    errors.append(f"get {type(exc).__name__}")
                i += 1

        async def publisher() -> None:
            # A real change every tick (one more answered call), so every stream gets events.
            client = aioredis.Redis.from_url(redis_url)
            writer = sqlite3.connect(db.split("///", 1)[1], timeout=30)
            ids = [r[0] for r in writer.execute(
                "SELECT id FROM call_attempt WHERE action_id = ? ORDER BY rank", (aid,))]
            for call_id in ids:
                if time.monotonic() >= stop:
                    break
                writer.execute("UPDATE call_attempt SET state = 'answered', answered_at = "
                               "CURRENT_TIMESTAMP WHERE id = ?", (call_id,))
                writer.commit()
                await progress.apublish(client, aid, {"kind": "call", "state": "answered"})
                await asyncio.sleep(0.2)
            writer.close()
            await client.aclose()

        half = clients // 2
        await asyncio.gather(*[sse() for _ in range(half)],
                             *[getter(i) for i in range(clients - half)], publisher())
    return {"clients": clients, "seconds": seconds, "get_requests": counters["get"],
            "sse_events": counters["sse_events"],
            "sse_events_per_stream": round(counters["sse_events"] / max(1, clients // 2), 1),
            "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k participants, < 60 s")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--cache-dir", type=Path, default=REPO / "var" / "bench",
                        help="where the synthetic participant store is kept between runs")
    args = parser.parse_args()
    participants = args.participants or (100_000 if args.quick else 1_250_000)
    workdir = args.cache_dir / f"api-run-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    redis = start_redis(workdir / "redis")
    proc = None
    try:
        url, headers = prepare(workdir, participants, args.cache_dir)
        proc, base = start_api(workdir, url, redis.url)
        log("creating actions ...")
        create = bench_create(base, headers, redis.url, url, args.actions)
        log(f"create: {create}")
        sse = bench_sse(base, headers, redis.url, url, 20)
        log(f"sse: {sse}")
        clients = asyncio.run(bench_clients(base, headers, redis.url, url, 200,
                                            5.0 if args.quick else 10.0))
        log(f"clients: {clients}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    ok = create["ratio"] <= 1 and sse["ratio"] <= 1 and clients["errors"] == 0
    print(json.dumps({"bench": "api", "participants": participants, "quick": args.quick,
                      "create_to_first_attempt": create, "sse_event_latency": sse,
                      "concurrent_clients": clients, "ok": ok}))


if __name__ == "__main__":
    main()
