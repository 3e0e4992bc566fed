"""Dialer scenarios inside answered calls and around them: the message, DTMF, cancel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import CallAttempt, DossierEntry
from engine.dialer.service import CANCEL_CHANNEL
from engine.sim.asterisk import Outcome, SimCall, SimConfig
from tests.dialer_support import attempts, running_dialer, seed_action, settle

pytestmark = pytest.mark.integration


def menu_sim(script: dict[str, tuple[str, str | None]]) -> SimConfig:
    """Callees who hear the message start and press ``digits``; ``choice`` is what the menu
    reported back (None: they hung up during the message)."""
    sim_ref: dict[str, Any] = {}

    async def on_answer(call: SimCall) -> None:
        sim = sim_ref["sim"]
        digits, choice = script[call.number]
        sim.user_event(call.channel_id, "BnetMessage", Status="started")
        await asyncio.sleep(0.05)
        if digits:
            sim.press(call.channel_id, digits)
            await asyncio.sleep(0.3 * len(digits) + 0.2)
        if choice is not None:
            sim.user_event(call.channel_id, "BnetMenu", Choice=choice)
        await asyncio.sleep(0.02)

    cfg = SimConfig(time_scale=0.01, seed=5, on_answer=on_answer)
    cfg.numbers = {n: Outcome("answer", ring_s=0.5) for n in script}
    cfg.__dict__["_ref"] = sim_ref
    return cfg


async def test_message_heard_or_hung_up_and_menu_digits(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    script = {
        "+31620000001": ("", "timeout"),  # heard it all, pressed nothing
        "+31620000002": ("", None),  # hung up during the message
        "+31620000003": ("12", "2"),  # repeat, then talk to the meldkamer
        "+31620000004": ("9", "9"),  # stop these messages
    }
    cfg = menu_sim(script)
    action = seed_action(session_factory, list(script))
    async with running_dialer(session_factory, redis_client, cfg) as (svc, sim):
        cfg.__dict__["_ref"]["sim"] = sim
        await settle(svc, session_factory, action)
    got = {r.e164: (r.outcome, r.dtmf) for r in attempts(session_factory, action)}
    assert got == {
        "+31620000001": ("answered", ""),
        "+31620000002": ("hung_up", ""),
        "+31620000003": ("answered", "12"),
        "+31620000004": ("answered", "9"),
    }
    with session_factory() as s:
        data = s.scalars(
            select(DossierEntry.data).where(
                DossierEntry.action_id == action, DossierEntry.kind == "call_attempt"
            )
        ).all()
    assert sorted(d.get("menu_choice", "") for d in data) == ["", "2", "9", "timeout"]


async def test_cancel_hangs_up_ringing_calls_at_once_and_leaves_answered_ones(
    session_factory: sessionmaker[Session], redis_client: Any, redis_url: str
) -> None:
    ringing = [f"+3163000000{i}" for i in range(3)]
    talking = ["+31630000009"]
    queued = [f"+316300001{i:02d}" for i in range(20)]
    cfg = SimConfig(time_scale=0.1, seed=1)
    cfg.numbers = {n: Outcome("answer", ring_s=25) for n in ringing}  # 2.5 s of ringing
    cfg.numbers |= {n: Outcome("answer", ring_s=1, hold_s=20) for n in talking}
    action = seed_action(session_factory, talking + ringing + queued)
    aredis = aioredis.Redis.from_url(redis_url)
    try:
        await _cancel_scenario(session_factory, redis_client, aredis, cfg, action, ringing, talking)
    finally:
        await aredis.aclose()
    outcomes = {r.e164: r.outcome for r in attempts(session_factory, action)}
    assert all(outcomes[n] == "cancelled" for n in ringing)
    assert outcomes[talking[0]] == "answered"
    assert all(outcomes[n] is None for n in queued)


async def _cancel_scenario(
    session_factory: sessionmaker[Session],
    redis_client: Any,
    aredis: Any,
    cfg: SimConfig,
    action: str,
    ringing: list[str],
    talking: list[str],
) -> None:
    async with running_dialer(
        session_factory, redis_client, cfg, aredis=aredis, max_channels=4
    ) as (svc, sim):
        await asyncio.sleep(0.6)  # the first 4 calls are up: 1 talking, 3 ringing
        assert len(sim.live_calls()) == 4
        with session_factory() as s, s.begin():  # what the actions service does on cancel
            s.execute(
                update(CallAttempt)
                .where(CallAttempt.action_id == action, CallAttempt.state == "queued")
                .values(state="cancelled")
            )
        await redis_client_publish(aredis, action)
        await asyncio.sleep(0.3)
        assert [c.number for c in sim.live_calls()] == talking  # answered call continues
        await settle(svc, session_factory, action)
        assert len(sim.originates) == 4


async def redis_client_publish(aredis: Any, action_id: str) -> None:
    await aredis.publish(
        CANCEL_CHANNEL, json.dumps({"action_id": action_id, "hangup_answered": False})
    )
