"""The dialer against the Asterisk simulator: what a user sees for every recorded outcome."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import ActionTarget, DossierEntry
from engine.participants.models import Phone
from engine.sim.asterisk import Outcome, SimConfig
from tests.dialer_support import attempts, running_dialer, seed_action, settle

pytestmark = pytest.mark.integration

NUMBERS = {
    "+31610000001": Outcome("answer", ring_s=1, hold_s=5),
    "+31610000002": Outcome("busy"),
    "+31610000003": Outcome("notfound"),
    "+31610000004": Outcome("congestion"),
    "+31610000005": Outcome("noanswer"),
    "+31610000006": Outcome("unreachable"),
}


def sim_config(**kw: Any) -> SimConfig:
    return SimConfig(numbers=dict(NUMBERS), time_scale=0.01, seed=3, **kw)


async def test_every_outcome_is_recorded_with_the_right_retry_and_flag(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    action = seed_action(session_factory, list(NUMBERS), with_phones=True)
    async with running_dialer(session_factory, redis_client, sim_config()) as (svc, sim):
        await settle(svc, session_factory, action)
        assert sim.duplicates() == {}
    rows = attempts(session_factory, action)
    by_number: dict[str, list[tuple[int, str | None, str]]] = {}
    for r in rows:
        by_number.setdefault(r.e164, []).append((r.attempt_no, r.outcome, r.state))
    assert by_number["+31610000001"] == [(1, "answered", "done")]
    # busy: retried after 2 minutes (queued, not yet due)
    assert by_number["+31610000002"] == [(1, "busy", "done"), (2, None, "queued")]
    # 404: never again, and the number is flagged for relatiebeheer
    assert by_number["+31610000003"] == [(1, "invalid_number", "done")]
    # 503: at once (on another trunk when there is one), up to 3 attempts
    assert [o for _, o, _ in by_number["+31610000004"]] == ["congestion"] * 3
    assert by_number["+31610000005"] == [(1, "no_answer", "done"), (2, None, "queued")]
    # Timeout 30 s: nothing listening looks like no answer (transcript 06a)
    assert by_number["+31610000006"][0][1] in ("no_answer", "unreachable")
    with session_factory() as s:
        flagged = s.scalars(select(Phone.e164).where(Phone.invalid_since.is_not(None))).all()
        assert flagged == ["+31610000003"]
        reached = s.scalars(select(ActionTarget.e164).where(ActionTarget.reached_by == "voice"))
        assert list(reached) == ["+31610000001"]
        kinds = s.scalars(select(DossierEntry.kind).where(DossierEntry.action_id == action)).all()
        assert kinds.count("call_attempt") == sum(1 for r in rows if r.state == "done")
        assert "number_flagged" in kinds


async def test_unknown_endpoint_fails_without_channel_events(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    action = seed_action(session_factory, ["+31610000001"])
    async with running_dialer(
        session_factory, redis_client, sim_config(), endpoint="no-such-endpoint"
    ) as (svc, _):
        await settle(svc, session_factory, action)
    rows = attempts(session_factory, action)
    assert [(r.attempt_no, r.outcome) for r in rows] == [(1, "failed")]


async def test_numbers_in_the_wrong_format_fail_alone_and_never_reach_asterisk(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    good = "+31610000001"
    bad = ["0612345678", "+3161234\r\nAction: Ping"]
    action = seed_action(session_factory, [good, *bad])
    async with running_dialer(session_factory, redis_client, sim_config()) as (svc, sim):
        await settle(svc, session_factory, action)
        sent = [r.channel for r in sim.originates]
    assert sent == [f"PJSIP/{good}@trunk"]
    got = {r.e164: (r.attempt_no, r.outcome) for r in attempts(session_factory, action)}
    assert got == {good: (1, "answered"), bad[0]: (1, "failed"), bad[1]: (1, "failed")}
