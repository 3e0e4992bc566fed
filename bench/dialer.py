"""Dialer benchmarks against the Asterisk simulator (time-scaled), one JSON object last.

    .venv/bin/python bench/dialer.py [--quick]

* ``utilisation_ratio``: L lines, N participants, mean hold H (30 s, answered at once): the
  bound N·H/L over the measured time from the first Originate to the last hang-up (target
  >= 0.97). H is the mean hold the simulator really drew (its sample mean, ~30 s). The full
  run is the issue's scenario (200 lines, 10,000 participants, time scale 0.05); ``--quick``
  runs 2,000 over 100 lines at scale 0.015, where the end of the run (the last calls finishing
  one by one, about H/2 of idle lines out of 20 rounds) alone costs ~2.5 % of the bound.
* ``originates_per_s``: Originates written per second while thousands of short calls keep
  every line cycling (one node, store and Redis included; target >= 500).
* ``trigger_to_first_originate_p95_ms``: from the trigger (selection of synthetic participants
  in a 2 km circle, targets + attempts written, wake published) to the first Originate the
  simulator receives (target <= 300 ms). Speech is not on this path by design: audio is
  needed only at answer, so the first Originate never waits for rendering.
* ``rss_mb``: peak RSS (VmHWM) of a ``bnet dialer run`` process dialling a 100,000-participant
  action (target <= 300 MB).
* ``duplicates`` / ``lost``: 2,000 concurrent calls with AMI connections dropped under them:
  ChannelIds the simulator received twice, and attempts without a final result or calls the
  simulator placed that no attempt accounts for (target 0 each); ``unknown`` counts attempts
  whose result went with a dropped connection (recorded as such, never redialled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import redis.asyncio as aioredis
from sqlalchemy import func, select, text

from engine.actions.models import Action, ActionTarget, CallAttempt
from engine.dialer.attempt_fsm import TimerSettings
from engine.dialer.service import WAKE_CHANNEL, DialerService
from engine.dialer.settings import AsteriskServer, DialerSettings, TrunkSettings
from engine.embedded import start_redis
from engine.sim.asterisk import AsteriskSim, SimConfig
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- store helpers ----------------------------------------------------------------------------
def fresh_store(tmp: Path, name: str) -> Any:
    url = f"sqlite:///{tmp / (name + '.db')}"
    upgrade(url)
    return url, make_sessionmaker(make_engine(url))


def add_action(factory: Any, n: int, *, priority: int = 70, first: int = 0) -> str:
    """A running action with n targets and queued attempts, written in bulk (raw executemany:
    100,000 rows in a few seconds instead of a minute of ORM work)."""
    action_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    with factory() as s, s.begin():
        s.add(Action(id=action_id, kind="suspect", state="running", priority=priority,
                     region="bench", signalement="bench", callback_number="0800-0011",
                     lat=52.0, lon=5.0, area={"type": "circle", "radius_m": 1000},
                     created_by="bench", started_at=now))
        s.flush()
        first_id = int(s.scalar(select(func.coalesce(func.max(ActionTarget.id), 0))) or 0) + 1
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime format
        # Generated inside SQLite (recursive CTE): 100,000 rows in a second, not in a minute.
        seq = ("WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq"
               " WHERE i + 1 < :n) ")
        params = {"n": n, "a": action_id, "first_id": first_id, "base": 3197_000_000_000 + first,
                  "prio": priority, "stamp": stamp}
        s.execute(text(
            seq + "INSERT INTO action_target (id, action_id, e164, phone_kind, channel,"
            " distance_m, rank, wave) SELECT :first_id + i, :a, '+' || (:base + i), 'mobile',"
            " 'voice', i, i + 1, 0 FROM seq"), params)
        s.execute(text(
            "INSERT INTO call_attempt (id, action_id, target_id, e164, purpose, attempt_no,"
            " rank, priority, state, due_at, dtmf) SELECT lower(hex(randomblob(16))), :a, id,"
            " e164, 'alert', 1, rank, :prio, 'queued', :stamp, '' FROM action_target"
            " WHERE action_id = :a"), params)
    return action_id


def open_attempts(factory: Any, action_id: str) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).where(
            CallAttempt.action_id == action_id,
            CallAttempt.state.in_(("queued", "originating", "ringing", "answered")))) or 0)


def settings_for(port: int, lines: int, *, trunks: int = 1, cps: float = 1000.0,
                 node: str = "bench-1") -> DialerSettings:
    per = max(1, lines // trunks)
    return DialerSettings(
        servers=[AsteriskServer(name="sim", port=port, simulated=False)],
        trunks=[TrunkSettings(name=f"t{i}", server="sim", endpoint="trunk", max_channels=per,
                              max_cps=cps) for i in range(trunks)],
        originate_timeout_s=30, node_id=node)


async def start_dialer(settings: DialerSettings, factory: Any, rclient: Any,
                       aredis: Any = None) -> DialerService:
    svc = DialerService(settings, factory, rclient, aredis=aredis)
    svc.timers = TimerSettings(originate_ack_s=5.0, originate_response_s=60.0,
                               hangup_grace_s=0.5, max_call_s=600.0)
    for client in svc.clients.values():
        client.config.backoff_initial, client.config.backoff_max = 0.02, 0.1
    await svc.start()
    return svc


async def wait_done(svc: DialerService, factory: Any, action_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not len(svc.calls) and open_attempts(factory, action_id) == 0:
            await svc.writer.drained()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"action not finished: {open_attempts(factory, action_id)} open")


# -- the simulator in its own process (the dialer gets a core of its own) ---------------------
class SimProcess:
    def __init__(self, scale: float, ring: tuple[float, float], hold: tuple[float, float]) -> None:
        from engine.embedded import free_port

        self.port = free_port()
        self.args = [sys.executable, "-m", "engine.sim.asterisk", "--port", str(self.port),
                     "--time-scale", str(scale), "--ring", str(ring[0]), str(ring[1]),
                     "--hold", str(hold[0]), str(hold[1]), "--answer-rate", "1.0",
                     "--busy-rate", "0", "--seed", "42"]
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> SimProcess:
        from engine.embedded import port_open

        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("simulator did not start")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        await asyncio.to_thread(self.proc.wait, 10)


# -- 1. line utilisation ----------------------------------------------------------------------
async def utilisation(tmp: Path, rclient: Any, n: int, lines: int, scale: float) -> dict[str, Any]:
    _, factory = fresh_store(tmp, "util")
    async with SimProcess(scale, ring=(0.0, 0.0), hold=(30.0, 5.0)) as sim:
        action = add_action(factory, n)
        svc = await start_dialer(settings_for(sim.port, lines, trunks=2), factory, rclient)
        await wait_done(svc, factory, action, timeout=n * 30 * scale / lines * 3 + 30)
        await svc.stop()
    with factory() as s:
        rows = s.execute(select(CallAttempt.answered_at, CallAttempt.ended_at).where(
            CallAttempt.action_id == action, CallAttempt.outcome == "answered")).all()
    holds = [(e - a).total_seconds() / scale for a, e in rows if a and e]
    # Calls are answered at once (no ring time), so the first answer is the first Originate.
    makespan = (max(e for _, e in rows) - min(a for a, _ in rows)).total_seconds() / scale
    mean_hold = statistics.fmean(holds)
    bound = n * mean_hold / lines
    return {"utilisation_ratio": round(bound / makespan, 4),
            "utilisation_bound_s": round(bound, 1), "utilisation_makespan_s": round(makespan, 1),
            "utilisation_mean_hold_s": round(mean_hold, 2), "utilisation_lines": lines,
            "utilisation_participants": n, "utilisation_answered": len(rows),
            "utilisation_time_scale": scale}


# -- 2. originate rate ------------------------------------------------------------------------
async def originate_rate(tmp: Path, rclient: Any, n: int, lines: int) -> dict[str, Any]:
    _, factory = fresh_store(tmp, "rate")
    async with SimProcess(0.005, ring=(0.0, 0.0), hold=(20.0, 4.0)) as sim:
        action = add_action(factory, n)
        svc = await start_dialer(settings_for(sim.port, lines, trunks=2), factory, rclient)
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + 120
        while svc.originates < n and time.monotonic() < deadline:
            samples.append((time.monotonic(), svc.originates))
            await asyncio.sleep(0.02)
        samples.append((time.monotonic(), svc.originates))
        await wait_done(svc, factory, action, timeout=60)
        await svc.stop()
    # Sustained rate between 20% and 90% of the calls (after the burst that fills the lines).
    lo = next(t for t, k in samples if k >= 0.2 * n)
    hi = next(t for t, k in samples if k >= 0.9 * n)
    return {"originates_per_s": round(0.7 * n / max(hi - lo, 1e-9), 1),
            "originates_total": samples[-1][1]}


# -- 3. trigger to first originate ------------------------------------------------------------
def seed_participants(factory: Any) -> Any:
    from engine.geo.importer import import_pc4_file
    from engine.geo.models import Pc4Area
    from engine.geo.service import Pc4Index
    from engine.participants.synth import SynthConfig, generate

    with factory() as s, s.begin():
        import_pc4_file(s, SHARED / "data" / "geo" / "nl_pc4.csv")
    with factory() as s:
        areas = [a for a in s.scalars(select(Pc4Area)) if abs(a.lat - 52.09) < 0.06
                 and abs(a.lon - 5.12) < 0.09]
        index = Pc4Index.load(s)
    engine = make_engine(str(factory.kw["bind"].url))
    with engine.begin() as conn:
        generate(conn, areas, SynthConfig(seed=7))
    return index


def trigger(factory: Any, index: Any, rclient: Any, k: int) -> tuple[str, float]:
    """What the API does on POST /v1/actions (engine.actions.service): select and write the
    nearest people (inner circle, capped) in the creating transaction, commit, wake the dialer;
    the rest of the area follows in a second transaction, after the first Originate matters."""
    from engine.actions.fanout import write_wave
    from engine.actions.service import FIRST_RADIUS_M, FIRST_TARGETS
    from engine.participants.selection import Circle, select_participants

    start = time.monotonic()
    now = datetime.now(UTC)
    with factory() as s, s.begin():
        action = Action(id=uuid.uuid4().hex, kind="suspect", state="running", priority=70,
                        region="bench", signalement="bench", callback_number="0800-0011",
                        lat=52.09 + k * 0.001, lon=5.12, created_by="bench", started_at=now,
                        area={"type": "circle", "radius_m": 2000}, channels="voice")
        s.add(action)
        s.flush()
        sel = select_participants(s, Circle(action.lat, action.lon, FIRST_RADIUS_M), now,
                                  index=index)
        write_wave(s, action, sel.entries[:FIRST_TARGETS], now=now, sms_segments=1)
    rclient.publish(WAKE_CHANNEL, action.id)
    return action.id, start


async def trigger_latency(tmp: Path, rclient: Any, redis_url: str, reps: int) -> dict[str, Any]:
    _, factory = fresh_store(tmp, "trigger")
    index = seed_participants(factory)
    cfg = SimConfig(time_scale=0.01, seed=3, ring_time_s=(1.0, 2.0))
    ared = aioredis.Redis.from_url(redis_url)
    samples, targets = [], []
    async with AsteriskSim(cfg) as sim:
        svc = await start_dialer(settings_for(sim.port, 200), factory, rclient, aredis=ared)
        await asyncio.sleep(0.3)  # connected, subscribed
        for k in range(reps):
            before = len(sim.originates)
            action_id, start = await asyncio.to_thread(trigger, factory, index, rclient, k)
            while len(sim.originates) == before:
                await asyncio.sleep(0.001)
            samples.append((sim.originates[before].at - start) * 1000)
            targets.append(open_attempts(factory, action_id))
            with factory() as s, s.begin():
                s.query(CallAttempt).filter(CallAttempt.action_id == action_id,
                                            CallAttempt.state == "queued").update(
                    {"state": "cancelled"})
            svc.cancel(action_id)
            await asyncio.sleep(0.05)
        await svc.stop()
    await ared.aclose()
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"trigger_to_first_originate_p95_ms": round(p95, 1),
            "trigger_to_first_originate_median_ms": round(statistics.median(samples), 1),
            "trigger_targets_median": int(statistics.median(targets))}


# -- 4. RSS of a dialer process with a 100,000-participant action -----------------------------
async def dialer_rss(tmp: Path, redis_url: str, n: int, seconds: float) -> dict[str, Any]:
    url, factory = fresh_store(tmp, "rss")
    add_action(factory, n)
    cfg = SimConfig(time_scale=0.01, seed=9, ring_time_s=(0.0, 1.0))
    async with AsteriskSim(cfg) as sim:
        conf = tmp / "rss.toml"
        conf.write_text(
            f'log_level = "WARNING"\n[store]\nurl = "{url}"\n[redis]\nurl = "{redis_url}"\n'
            f'[dialer]\nnode_id = "rss-node"\n'
            f'servers = [{{name = "sim", port = {sim.port}, simulated = false}}]\n'
            f'trunks = [{{name = "t1", server = "sim", endpoint = "trunk", max_channels = 200,'
            f' max_cps = 1000}}]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("BNET_")}
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "--config", str(conf),
                                 "dialer", "run"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + seconds
        while len(sim.originates) < 600 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # steady state: pages in, lines busy, results written
        status = Path(f"/proc/{proc.pid}/status").read_text()
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 20)
        dialled = len(sim.originates)
    hwm_kb = int(next(line.split()[1] for line in status.splitlines()
                      if line.startswith("VmHWM")))
    return {"rss_mb": round(hwm_kb / 1024, 1), "rss_participants": n, "rss_dialled": dialled}


# -- 5. duplicates and lost under AMI drops ---------------------------------------------------
async def drops(tmp: Path, rclient: Any, concurrent: int, n: int) -> dict[str, Any]:
    _, factory = fresh_store(tmp, "drops")
    # Calls last ~4.5 s real (30 s at scale 0.15) so that ~2,000 are up at once.
    cfg = SimConfig(time_scale=0.15, seed=13, ring_time_s=(1.0, 3.0), hold_time_s=(30.0, 5.0),
                    drop_after_originates=n // 2)
    async with AsteriskSim(cfg) as sim:
        action = add_action(factory, n)
        svc = await start_dialer(settings_for(sim.port, concurrent, trunks=2), factory, rclient)
        peak = 0
        for _ in range(2):  # drop every AMI connection while ~2,000 calls are up
            deadline = time.monotonic() + 10
            while len(sim.live_calls()) < 0.9 * concurrent and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            peak = max(peak, len(sim.live_calls()))
            sim.drop_connections()
            await asyncio.sleep(0.5)
        await wait_done(svc, factory, action, timeout=120)
        await svc.stop()
        dup = sum(c - 1 for c in sim.duplicates().values())
        placed = {r.channel_id for r in sim.originates}
    with factory() as s:
        rows = s.execute(select(CallAttempt.id, CallAttempt.e164, CallAttempt.state,
                                CallAttempt.outcome).where(CallAttempt.action_id == action)).all()
    final = {i for i, _, st, o in rows if st in ("done", "cancelled") and o}
    open_rows = sum(1 for i, _, st, o in rows if st in ("queued",) and o is None)
    lost = (len(placed - final) + sum(1 for i, _, _, _ in rows if i not in final)
            - open_rows)
    reached_once = Counter(e for _, e, _, o in rows if o == "answered")
    outcomes = Counter(o for *_, o in rows)
    return {"duplicates": dup + sum(1 for c in reached_once.values() if c > 1), "lost": lost,
            "unknown": outcomes.get("unknown", 0), "drops_peak_concurrent": peak,
            "drops_attempts": len(rows), "drops_reconnects":
            sum(c.reconnects for c in svc.clients.values())}


QUICK: dict[str, dict[str, Any]] = {
    "utilisation": {"n": 2000, "lines": 100, "scale": 0.015},
    "originates": {"n": 2000, "lines": 500},
    "trigger": {"reps": 10},
    "rss": {"n": 100_000, "seconds": 12},
    "drops": {"concurrent": 2000, "n": 2000},
}
FULL: dict[str, dict[str, Any]] = {
    "utilisation": {"n": 10_000, "lines": 200, "scale": 0.05},
    "originates": {"n": 10_000, "lines": 1000},
    "trigger": {"reps": 40},
    "rss": {"n": 100_000, "seconds": 30},
    "drops": {"concurrent": 2000, "n": 6000},
}


async def main_async(quick: bool) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    # As `bnet dialer run` does: the store thread needs the GIL back quickly (see there).
    sys.setswitchinterval(0.0005)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = start_redis(tmp / "redis")
        rclient = redis.Redis.from_url(server.url)
        try:
            out: dict[str, Any] = {"quick": quick}
            size = QUICK if quick else FULL
            parts = (
                ("utilisation", lambda: utilisation(tmp, rclient, **size["utilisation"])),
                ("originates", lambda: originate_rate(tmp, rclient, **size["originates"])),
                ("trigger", lambda: trigger_latency(tmp, rclient, server.url, **size["trigger"])),
                ("rss", lambda: dialer_rss(tmp, server.url, **size["rss"])),
                ("drops", lambda: drops(tmp, rclient, **size["drops"])),
            )
            timings = {}
            for name, part in parts:
                t = time.monotonic()
                out |= await part()
                timings[name] = round(time.monotonic() - t, 1)
            out["part_seconds"] = timings
            out["bounds"] = {"utilisation_ratio": ">= 0.97", "originates_per_s": ">= 500",
                             "trigger_to_first_originate_p95_ms": "<= 300", "rss_mb": "<= 300",
                             "duplicates": "0", "lost": "0"}
            out["ratios"] = {
                "utilisation": round(out["utilisation_ratio"] / 0.97, 3),
                "originates": round(out["originates_per_s"] / 500, 3),
                "trigger": round(300 / max(out["trigger_to_first_originate_p95_ms"], 1e-3), 3),
                "rss": round(300 / max(out["rss_mb"], 1e-3), 3),
            }
            return out
        finally:
            rclient.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="scaled down, under 45 s")
    args = parser.parse_args()
    started = time.monotonic()
    out = asyncio.run(main_async(args.quick))
    out["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
