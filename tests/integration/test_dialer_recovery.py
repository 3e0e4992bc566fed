"""Exactly once under faults: dropped AMI connections, Asterisk shutting down, two dialer
nodes, a dialer restarted while its calls are up."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.dialer.service import DialerService
from engine.sim.asterisk import AsteriskSim, Outcome, SimConfig
from tests.dialer_support import (
    attempts,
    dialer_settings,
    running_dialer,
    seed_action,
    settle,
)

pytestmark = pytest.mark.integration


def numbers(n: int, base: int = 31640000000) -> list[str]:
    return [f"+{base + i}" for i in range(n)]


async def test_dropped_ami_connections_never_duplicate_or_lose_a_call(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    nums = numbers(120)
    cfg = SimConfig(time_scale=0.01, seed=11, drop_after_originates=25, ring_time_s=(10, 30),
                    hold_time_s=(100, 10))
    action = seed_action(session_factory, nums)
    async with running_dialer(session_factory, redis_client, cfg, max_channels=30) as (svc, sim):
        sim.drop_at(0.4)  # and once more while calls are up
        await settle(svc, session_factory, action, timeout=30)
        assert sim.duplicates() == {}
        sent = Counter(r.channel_id for r in sim.originates)
    rows = attempts(session_factory, action)
    assert {r.state for r in rows} == {"done"}
    first = [r for r in rows if r.attempt_no == 1]
    assert sorted(r.e164 for r in first) == nums  # nobody skipped
    # Every call Asterisk received is accounted for; results lost with a connection are
    # "unknown", never redialled.
    assert set(sent) <= {r.id for r in rows}
    outcomes = Counter(r.outcome for r in rows)
    assert outcomes["answered"] >= 100, outcomes
    assert set(outcomes) <= {"answered", "unknown"}


async def test_asterisk_shutting_down_refuses_calls_that_go_out_after_it_is_back(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    nums = numbers(30, 31650000000)
    cfg = SimConfig(time_scale=0.01, seed=2, ring_time_s=(1, 2), hold_time_s=(100, 1))
    action = seed_action(session_factory, nums)
    sim = AsteriskSim(cfg)
    port = await sim.start()
    async with running_dialer(
        session_factory, redis_client, sim=sim, max_channels=10
    ) as (svc, _):
        await asyncio.sleep(0.3)
        await sim.shutdown(graceful=True)  # the 10 calls up finish, then Shutdown + EOF
        first_round = len(sim.originates)
        back = AsteriskSim(cfg, port=port)
        await back.start()
        try:
            await settle(svc, session_factory, action, timeout=30)
        finally:
            await back.stop()
        assert first_round >= 10
        assert back.duplicates() == {}
        assert not {r.channel_id for r in sim.originates} & {r.channel_id for r in back.originates}
    rows = attempts(session_factory, action)
    outcomes = Counter(r.outcome for r in rows)
    assert outcomes["not_sent"] >= 1  # refused while shutting down ...
    assert set(outcomes) <= {"answered", "not_sent", "unknown"}
    for number in nums:
        mine = [r.outcome for r in rows if r.e164 == number]
        # ... and called once it was back; an Originate cut off by the EOF is never resent.
        assert mine in (["answered"], ["not_sent", "answered"], ["unknown"]), (number, mine)


async def test_two_dialer_nodes_share_the_work_and_call_nobody_twice(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    nums = numbers(200, 31660000000)
    action = seed_action(session_factory, nums)
    cfg = SimConfig(time_scale=0.005, seed=4, ring_time_s=(1, 2), hold_time_s=(10, 3))
    async with AsteriskSim(cfg) as sim:
        a = dialer_settings(sim.port, max_channels=20).model_copy(update={"node_id": "node-a"})
        b = a.model_copy(update={"node_id": "node-b"})
        async with running_dialer(session_factory, redis_client, settings=a, sim=sim) as (
            svc_a,
            _,
        ), running_dialer(session_factory, redis_client, settings=b, sim=sim) as (svc_b, _):
            await settle(svc_a, session_factory, action, timeout=30)
            await settle(svc_b, session_factory, action, timeout=30)
        assert sim.duplicates() == {}
        assert len(sim.originates) == 200
    rows = attempts(session_factory, action)
    assert Counter(r.outcome for r in rows) == {"answered": 200}
    nodes = Counter(r.claimed_by for r in rows)
    assert set(nodes) == {"node-a", "node-b"}


async def test_restarted_dialer_adopts_its_calls_still_up_and_redials_none(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    nums = numbers(8, 31670000000)
    action = seed_action(session_factory, nums)
    cfg = SimConfig(time_scale=0.01, seed=9)
    cfg.numbers = {n: Outcome("answer", ring_s=0.5, hold_s=150) for n in nums}
    async with AsteriskSim(cfg) as sim:
        settings = dialer_settings(sim.port, max_channels=8)
        async with running_dialer(session_factory, redis_client, settings=settings, sim=sim):
            await asyncio.sleep(0.5)  # all 8 answered and talking
        assert len(sim.live_calls()) == 8
        svc: DialerService
        async with running_dialer(session_factory, redis_client, settings=settings, sim=sim) as (
            svc,
            _,
        ):
            await settle(svc, session_factory, action, timeout=20)
        assert len(sim.originates) == 8
        assert sim.duplicates() == {}
    rows = attempts(session_factory, action)
    assert [r.outcome for r in rows] == ["answered"] * 8
    # Followed to their real end, not closed blind at the restart:
    assert all(r.hangup_cause == 16 for r in rows)


async def test_claimed_but_unsent_attempts_are_dialled_after_a_crash_sent_ones_never(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    """A node died with attempts claimed ahead (state originating, no claim key: never sent)
    and one whose key was set (it may have rung, and is no longer up): after the restart the
    first are dialled, the last is recorded unknown and not dialled again."""
    from sqlalchemy import update

    from engine.actions.models import CallAttempt
    from engine.dialer.claims import claim_key

    nums = numbers(4, 31680000000)
    action = seed_action(session_factory, nums)
    rows = attempts(session_factory, action)
    with session_factory() as s, s.begin():
        s.execute(update(CallAttempt).where(CallAttempt.action_id == action)
                  .values(state="originating", claimed_by="dialer-1"))
    sent = rows[0]
    redis_client.set(claim_key(action, sent.e164, "alert", 1), f"{sent.id}|t1")
    cfg = SimConfig(time_scale=0.01, seed=2, ring_time_s=(0.5, 1), hold_time_s=(20, 2))
    async with running_dialer(session_factory, redis_client, cfg) as (svc, sim):
        await settle(svc, session_factory, action)
        dialled = sorted(r.channel_id for r in sim.originates)
    got = {r.e164: r.outcome for r in attempts(session_factory, action)}
    assert got == {nums[0]: "unknown", nums[1]: "answered", nums[2]: "answered",
                   nums[3]: "answered"}
    assert dialled == sorted(r.id for r in rows[1:])


async def crash(svc: DialerService) -> None:
    """A node that dies: no goodbye, its claims and calls left as they are."""
    svc.stopping = True
    for client in svc.clients.values():
        await client.stop()
    for task in [*svc._tasks, *svc._bg]:
        task.cancel()
    await asyncio.sleep(0.05)
    svc.claims.leave()  # its heartbeat key expires (here: at once)
    svc.store.close()
    await svc.aredis.aclose()


async def test_a_live_node_takes_over_the_calls_of_a_node_that_died(
    session_factory: sessionmaker[Session], redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.dialer.reconcile as reconcile
    from tests.dialer_support import dialer_settings as make_settings

    monkeypatch.setattr(reconcile, "DEAD_PEER_CHECK_S", 0.2)
    nums = numbers(6, 31690000000)
    cfg = SimConfig(time_scale=0.01, seed=3)
    cfg.numbers = {n: Outcome("answer", ring_s=0.5, hold_s=200) for n in nums}
    async with AsteriskSim(cfg) as sim:
        a = make_settings(sim.port, max_channels=6).model_copy(update={"node_id": "node-a"})
        b = a.model_copy(update={"node_id": "node-b"})
        async with running_dialer(session_factory, redis_client, settings=b, sim=sim) as (
            svc_b, _):
            svc_b.reconciler.housekeeping_s = 0.2
            await asyncio.sleep(0.3)
            action = seed_action(session_factory, nums)
            svc_a = DialerService(a, session_factory, redis_client)
            svc_b.feeder.cancelled.add(action)  # only node-a dials this action
            await svc_a.start()
            await asyncio.sleep(0.8)  # node-a's six calls are up
            assert len(sim.live_calls()) == 6
            await crash(svc_a)
            await settle(svc_b, session_factory, action, timeout=20)
        assert len(sim.originates) == 6 and sim.duplicates() == {}
    rows = attempts(session_factory, action)
    assert [r.outcome for r in rows] == ["answered"] * 6
    assert {r.claimed_by for r in rows} == {"node-b"}
