"""Shared helpers for the dialer tests (replay transcripts through the attempt machine)."""

from __future__ import annotations

from pathlib import Path

from engine.dialer.attempt_fsm import AttemptMachine
from engine.dialer.call_events import candidate_ids, signal_from_event
from engine.dialer.transcripts import load_transcript

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
TRANSCRIPTS = SHARED / "asterisk" / "transcripts"


def originated_ids(path: Path, tag: str = "AMI>") -> list[str]:
    """ChannelIds of the Originates the recording client sent, in send order."""
    out = []
    for timed in load_transcript(path).messages(tag):
        msg = timed.message
        if (msg.get("Action") or "").lower() == "originate" and msg.get("ChannelId"):
            out.append(msg["ChannelId"])
    return out


def replay(path: Path, tag: str = "AMI<", amd_mode: str = "off") -> dict[str, AttemptMachine]:
    """Feed every event of a transcript to one machine per originated ChannelId."""
    send_tag = tag[:3] + ">"
    machines = {cid: AttemptMachine(cid) for cid in originated_ids(path, send_tag)}
    for m in machines.values():
        m.facts.amd_mode = amd_mode
        m.step("sent", now=0.0)
        m.step("ack", now=0.0)
    for timed in load_transcript(path).messages(tag):
        msg = timed.message
        if msg.kind != "event":
            continue
        attempt = next((c for c in candidate_ids(msg) if c in machines), None)
        if attempt is None:
            continue
        signal = signal_from_event(msg, attempt)
        if signal is not None:
            machines[attempt].step(signal.kind, signal.value, now=timed.offset)
    for m in machines.values():
        # Let pending timers run out (e.g. the grace period after an unknown endpoint).
        while not m.finished and m.timers:
            name = min(m.timers, key=m.timers.__getitem__)
            m.step("timer:" + name, now=m.timers[name])
    return machines


# -- a store with actions, and a dialer against the Asterisk simulator ------------------------
import asyncio  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator, Sequence  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from engine.actions.models import Action, ActionTarget, CallAttempt  # noqa: E402
from engine.dialer.attempt_fsm import TimerSettings  # noqa: E402
from engine.dialer.service import DialerService  # noqa: E402
from engine.dialer.settings import AsteriskServer, DialerSettings, TrunkSettings  # noqa: E402
from engine.participants.models import Participant, Phone  # noqa: E402
from engine.sim.asterisk import AsteriskSim, SimConfig  # noqa: E402
from engine.store.base import utcnow  # noqa: E402


def seed_action(
    factory: sessionmaker[Session],
    numbers: Sequence[str],
    *,
    kind: str = "suspect",
    priority: int = 70,
    with_phones: bool = False,
) -> str:
    """A running action with one target and one queued alert attempt per number."""
    action_id = uuid.uuid4().hex
    now = utcnow()
    with factory() as s, s.begin():
        s.add(
            Action(
                id=action_id, kind=kind, state="running", priority=priority, region="test",
                signalement="Man, rode jas.", callback_number="0800-0011", lat=52.0, lon=5.0,
                area={"type": "circle", "radius_m": 1000}, created_by="test", started_at=now,
            )
        )
        s.flush()
        for rank, e164 in enumerate(numbers, start=1):
            pid = None
            if with_phones:
                p = Participant(name=f"P{rank}", status="active", consent_at=now)
                s.add(p)
                s.flush()
                s.add(Phone(participant_id=p.id, e164=e164, kind="mobile"))
                pid = p.id
            t = ActionTarget(
                action_id=action_id, participant_id=pid, e164=e164, phone_kind="mobile",
                channel="voice", distance_m=float(rank), rank=rank,
            )
            s.add(t)
            s.flush()
            s.add(
                CallAttempt(
                    id=uuid.uuid4().hex, action_id=action_id, target_id=t.id, e164=e164,
                    rank=rank, priority=priority, state="queued", due_at=now, dtmf="",
                )
            )
    return action_id


def attempts(factory: sessionmaker[Session], action_id: str) -> list[CallAttempt]:
    with factory() as s:
        stmt = select(CallAttempt).where(CallAttempt.action_id == action_id)
        return list(s.scalars(stmt.order_by(CallAttempt.rank, CallAttempt.attempt_no)))


def unsettled(factory: sessionmaker[Session], action_id: str) -> int:
    """Attempts still to be dialled now or still in a call."""
    now = utcnow()
    with factory() as s:
        busy = s.scalar(
            select(func.count()).where(
                CallAttempt.action_id == action_id,
                CallAttempt.state.in_(("originating", "ringing", "answered"))
                | ((CallAttempt.state == "queued") & (CallAttempt.due_at <= now)),
            )
        )
    return int(busy or 0)


async def settle(svc: DialerService, factory: sessionmaker[Session], action_id: str,
                 timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await svc.writer.drained()
        if not len(svc.calls) and unsettled(factory, action_id) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"action did not settle: {unsettled(factory, action_id)} open")


def dialer_settings(port: int, **trunk: Any) -> DialerSettings:
    t: dict[str, Any] = {"name": "t1", "endpoint": "trunk", "max_channels": 10, "max_cps": 200}
    t.update(trunk)
    return DialerSettings(
        servers=[AsteriskServer(name="sim", port=port)],
        trunks=[TrunkSettings.model_validate({"server": "sim", **t})],
        originate_timeout_s=30,
    )


@asynccontextmanager
async def running_dialer(
    factory: sessionmaker[Session],
    redis: Any,
    sim_config: SimConfig | None = None,
    *,
    aredis: Any = None,
    settings: DialerSettings | None = None,
    sim: AsteriskSim | None = None,
    **trunk: Any,
) -> AsyncIterator[tuple[DialerService, AsteriskSim]]:
    own_sim = sim is None
    if sim is None:
        sim = AsteriskSim(sim_config or SimConfig(time_scale=0.01, seed=7))
        await sim.start()
    svc = DialerService(settings or dialer_settings(sim.port, **trunk), factory, redis,
                        aredis=aredis)
    svc.timers = TimerSettings(originate_ack_s=2.0, originate_response_s=20.0,
                               hangup_grace_s=0.3, max_call_s=60.0)
    for client in svc.clients.values():
        client.config.backoff_initial = 0.05
        client.config.backoff_max = 0.2
    await svc.start()
    try:
        yield svc, sim
    finally:
        await svc.stop()
        if own_sim:
            await sim.stop()


def due_now(factory: sessionmaker[Session], action_id: str) -> None:
    """Make every queued retry of an action due (instead of waiting minutes)."""
    with factory() as s, s.begin():
        for row in s.scalars(select(CallAttempt).where(
                CallAttempt.action_id == action_id, CallAttempt.state == "queued")):
            row.due_at = utcnow() - timedelta(seconds=1)
