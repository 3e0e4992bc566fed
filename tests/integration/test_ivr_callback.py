"""Inbound callback over TCP against a real SQLite store: what the caller and centralist notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import DossierEntry, InboundCall
from engine.ivr.callback import CallbackConfig, make_callback_route
from engine.ivr.inbound_calls import record_queue_event
from engine.ivr.sounds import IvrSounds
from engine.store.base import utcnow
from engine.store.db import make_engine, make_sessionmaker
from tests.ivr_support import (
    PeerScript,
    add_action,
    add_attempt,
    add_participant,
    add_target,
    inbound_env,
    recorded_ami_events,
    run_peer,
    serving,
    set_variables,
)

pytestmark = pytest.mark.integration
CALLER = "+31612345678"
SOUNDS = IvrSounds(no_active_action="bnet/geen-actie")


def _seed(factory: sessionmaker[Session], *, state: str = "running", ago: float = 1.0) -> str:
    with factory() as s, s.begin():
        person = add_participant(s, CALLER)
        action = add_action(
            s, state=state, ended_ago=None if state == "running" else timedelta(hours=ago)
        )
        add_target(s, action, CALLER, person, reached_at=utcnow() - timedelta(hours=ago))
        return action.id


async def _call(factory: sessionmaker[Session], callerid: str, **script: object) -> PeerScript:
    route = make_callback_route(factory, CallbackConfig(sounds=SOUNDS))
    async with serving({"callback": route}) as server:
        return await run_peer(server.port, PeerScript(inbound_env(callerid), **script))  # type: ignore[arg-type]


def _entries(factory: sessionmaker[Session], action_id: str) -> list[DossierEntry]:
    with factory() as s:
        stmt = select(DossierEntry).where(DossierEntry.action_id == action_id)
        return list(s.scalars(stmt.order_by(DossierEntry.seq)))


async def test_caller_of_running_action_is_queued_first_and_linked(
    session_factory: sessionmaker[Session],
) -> None:
    action_id = _seed(session_factory)
    peer = await _call(session_factory, "0612345678")
    variables = set_variables(peer.commands)
    assert variables["BNET_ROUTE"] == "queue"
    assert variables["QUEUE_PRIO"] == "10"
    assert variables["BNET_ACTION_ID"] == action_id
    assert variables["CALLERID(name)"] == f"BN {action_id[:6]} +3161****678"
    assert not any(c.startswith("GET DATA") for c in peer.commands)  # straight to the queue
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
        assert (call.action_id, call.caller_e164) == (action_id, CALLER)
        assert dossier.verify(s, action_id).ok
    (entry,) = _entries(session_factory, action_id)
    assert entry.kind == "inbound_call" and entry.personal == {"caller": CALLER}
    assert CALLER not in str(entry.data)  # numbers only in the personal part


async def test_caller_of_recently_closed_action_still_linked_lower_priority(
    session_factory: sessionmaker[Session],
) -> None:
    action_id = _seed(session_factory, state="closed", ago=2)
    variables = set_variables((await _call(session_factory, "+31612345678")).commands)
    assert (variables["QUEUE_PRIO"], variables["BNET_ACTION_ID"]) == ("5", action_id)


async def test_unknown_caller_hears_no_active_action_and_is_still_queued(
    session_factory: sessionmaker[Session],
) -> None:
    _seed(session_factory, state="closed", ago=30)  # too old to link
    # transcript 08's caller id (not a valid Dutch number) and its GET DATA timeout reply
    peer = await _call(
        session_factory, "015112345678", replies={"GET DATA": [["200 result= (timeout)"]]}
    )
    variables = set_variables(peer.commands)
    assert any(c.startswith("GET DATA bnet/geen-actie") for c in peer.commands)
    assert variables["BNET_ROUTE"] == "queue" and variables["QUEUE_PRIO"] == "1"
    assert variables["BNET_ACTION_ID"] == ""
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
        assert call.action_id is None and call.caller_e164 is None


async def test_hangup_during_prompt_is_recorded(session_factory: sessionmaker[Session]) -> None:
    await _call(session_factory, "0687654321", hangup_on="GET DATA")
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
        assert call.outcome == "hung_up_in_ivr" and call.ended_at is not None


async def test_broken_store_never_drops_the_caller(tmp_path: object) -> None:
    # an empty database without tables: every lookup fails
    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    try:
        peer = await _call(make_sessionmaker(engine), "0612345678")
    finally:
        engine.dispose()
    variables = set_variables(peer.commands)
    assert variables["BNET_ROUTE"] == "queue" and variables["QUEUE_PRIO"] == "5"


async def test_queue_events_of_transcript_08_mark_the_call_answered(
    session_factory: sessionmaker[Session],
) -> None:
    action_id = _seed(session_factory)
    events = recorded_ami_events("08")
    uniqueid = next(e["Uniqueid"] for e in events if e.get("Event") == "QueueCallerJoin")
    script = PeerScript(inbound_env("0612345678", uniqueid))
    route = make_callback_route(session_factory)
    async with serving({"callback": route}) as server:
        await run_peer(server.port, script)
    with session_factory() as s, s.begin():
        handled = [record_queue_event(s, e) for e in events]
    with session_factory() as s, s.begin():
        for event in events:  # the dialer retries a failed batch: nothing doubles
            record_queue_event(s, event)
    assert sum(h is not None for h in handled) >= 4
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
        assert call.outcome == "answered"
        assert call.queued_at and call.answered_at and call.ended_at
    kinds = [e.kind for e in _entries(session_factory, action_id)]
    assert kinds == [
        "inbound_call",
        "inbound_call_joined",
        "inbound_call_answered",
        "inbound_call_completed",
    ]
    answered = _entries(session_factory, action_id)[2]
    assert answered.data["hold_time_s"] == 2


async def test_queue_events_of_transcript_09_mark_the_call_abandoned(
    session_factory: sessionmaker[Session],
) -> None:
    action_id = _seed(session_factory)
    events = recorded_ami_events("09")
    uniqueid = next(e["Uniqueid"] for e in events if e.get("Event") == "QueueCallerJoin")
    async with serving({"callback": make_callback_route(session_factory)}) as server:
        await run_peer(server.port, PeerScript(inbound_env("0612345678", uniqueid)))
    with session_factory() as s, s.begin():
        for event in events:
            record_queue_event(s, event)
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
        assert call.outcome == "abandoned" and call.answered_at is None
    abandoned = _entries(session_factory, action_id)[-1]
    assert abandoned.kind == "inbound_call_abandoned" and abandoned.data["hold_time_s"] == 6


async def test_menu_caller_pressing_2_is_followed_into_the_queue(
    session_factory: sessionmaker[Session],
) -> None:
    """Transcript 15a: the queue events carry Uniqueid = ChannelId = CallAttempt.id."""
    events = recorded_ami_events("15")
    channel_id = next(e["Uniqueid"] for e in events if e.get("Event") == "QueueCallerJoin")
    with session_factory() as s, s.begin():
        person = add_participant(s, CALLER)
        action = add_action(s)
        target = add_target(s, action, CALLER, person)
        attempt = add_attempt(s, target)
        attempt.id = channel_id
        action_id = action.id
    for _ in range(2):  # delivered twice (a retried batch): recorded once
        with session_factory() as s, s.begin():
            for event in events:
                record_queue_event(s, event)
    kinds = [(e.kind, e.data.get("hold_time_s")) for e in _entries(session_factory, action_id)]
    assert kinds == [("menu_queue_joined", None), ("menu_queue_answered", 2)]
