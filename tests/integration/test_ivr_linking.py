"""Which action an inbound caller is linked to (store rules, real SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.ivr.inbound_calls import PRIO_RUNNING, InboundDecision, start_inbound_call
from engine.participants.models import Phone
from engine.store.base import utcnow
from tests.ivr_support import add_action, add_participant, add_target

pytestmark = pytest.mark.integration
MOBILE, LANDLINE = "+31612345678", "+31570612345"


def _start(
    factory: sessionmaker[Session], caller: str | None, uid: str = "1.1"
) -> tuple[InboundDecision, list[tuple[str, str]]]:
    recorded: list[tuple[str, str]] = []

    def append(_s: Session, action_id: str, **kw: object) -> None:
        recorded.append((action_id, str(kw["kind"])))

    with factory() as s, s.begin():
        decision = start_inbound_call(s, uniqueid=uid, caller=caller, append=append)
    return decision, recorded


def test_running_action_beats_a_more_recent_closed_one(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s, s.begin():
        person = add_participant(s, MOBILE)
        running = add_action(s)
        closed = add_action(s, state="closed", ended_ago=timedelta(minutes=5))
        add_target(s, running, MOBILE, person, reached_at=utcnow() - timedelta(hours=3))
        add_target(s, closed, MOBILE, person, reached_at=utcnow() - timedelta(minutes=30))
        running_id, closed_id = running.id, closed.id
    decision, recorded = _start(session_factory, MOBILE)
    assert decision.action_id == running_id and decision.queue_prio == PRIO_RUNNING
    assert decision.other_action_ids == (closed_id,)
    assert recorded == [(running_id, "inbound_call")]


def test_caller_on_another_phone_of_the_participant_is_linked(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s, s.begin():
        person = add_participant(s, MOBILE)
        s.add(Phone(participant_id=person.id, e164=LANDLINE, kind="landline"))
        action = add_action(s)
        add_target(s, action, MOBILE, person, reached_at=utcnow())
        action_id = action.id
    decision, _ = _start(session_factory, LANDLINE)
    assert decision.action_id == action_id


def test_target_without_participant_is_found_by_number(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s, s.begin():
        action = add_action(s)
        add_target(s, action, MOBILE, None)
        action_id = action.id
    decision, _ = _start(session_factory, MOBILE)
    assert decision.action_id == action_id and decision.participant_id is None


def test_cancelled_and_old_actions_are_not_linked(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        person = add_participant(s, MOBILE)
        cancelled = add_action(s, state="cancelled")
        old = add_action(s, state="closed", ended_ago=timedelta(days=3))
        add_target(s, cancelled, MOBILE, person, reached_at=utcnow())
        add_target(s, old, MOBILE, person, reached_at=utcnow() - timedelta(days=3))
    decision, recorded = _start(session_factory, MOBILE)
    assert decision.action_id is None and decision.queue_prio == 1
    assert recorded == []  # no action, no dossier


def test_same_uniqueid_twice_updates_one_row(session_factory: sessionmaker[Session]) -> None:
    first, _ = _start(session_factory, MOBILE, uid="7.7")
    second, _ = _start(session_factory, None, uid="7.7")
    assert first.inbound_call_id == second.inbound_call_id
