"""Queue outcome classification on the AMI events Asterisk 22 sent (transcripts 08, 09, 15)."""

from __future__ import annotations

from engine.ivr.queue_events import classify_queue_event, fold_queue_events
from tests.ivr_support import recorded_ami_events


def _caller_uniqueid(events: list[dict[str, str]]) -> str:
    return next(e["Uniqueid"] for e in events if e.get("Event") == "QueueCallerJoin")


def test_answered_caller_transcript_08() -> None:
    events = recorded_ami_events("08")
    outcome = fold_queue_events(_caller_uniqueid(events), events)
    assert outcome.outcome == "answered"
    assert outcome.hold_time_s == 2
    assert outcome.talk_time_s == 6
    assert outcome.ended


def test_abandoned_caller_transcript_09() -> None:
    events = recorded_ami_events("09")
    outcome = fold_queue_events(_caller_uniqueid(events), events)
    assert outcome.outcome == "abandoned"
    assert outcome.hold_time_s == 6
    assert outcome.ended


def test_menu_caller_in_queue_transcript_15_is_correlated_by_channel_id() -> None:
    events = recorded_ami_events("15")
    joined = [e["Uniqueid"] for e in events if e.get("Event") == "QueueCallerJoin"]
    assert len(joined) == 2  # scenarios (a) and (d) pressed 2
    for uniqueid in joined:
        outcome = fold_queue_events(uniqueid, events)
        assert outcome.outcome == "answered" and outcome.hold_time_s == 2


def test_leave_before_connect_does_not_decide_the_outcome() -> None:
    events = recorded_ami_events("08")
    uid = _caller_uniqueid(events)
    until_leave = []
    for event in events:
        until_leave.append(event)
        if event.get("Event") == "QueueCallerLeave":
            break
    assert fold_queue_events(uid, until_leave).outcome is None


def test_other_events_and_other_callers_are_ignored() -> None:
    assert classify_queue_event({"Event": "VarSet", "Uniqueid": "1.1"}) is None
    assert classify_queue_event({"Event": "AgentConnect"}) is None
    events = recorded_ami_events("08")
    assert fold_queue_events("no-such-call", events).outcome is None


def test_bad_numbers_in_events_do_not_crash() -> None:
    event = classify_queue_event(
        {"Event": "AgentConnect", "Uniqueid": "1.2", "HoldTime": "x", "Queue": "centralist"}
    )
    assert event is not None and event.kind == "answered" and event.hold_time_s is None
