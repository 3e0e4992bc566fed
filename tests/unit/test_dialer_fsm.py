"""Attempt state machine and classification, driven by what real Asterisk 22 sent."""

from __future__ import annotations

import pytest

from engine.dialer.attempt_fsm import TRANSITIONS, AttemptMachine, TimerSettings
from engine.dialer.outcomes import CallFacts, classify, next_attempt
from tests.dialer_support import TRANSCRIPTS, replay

pytestmark = pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared transcripts absent")


def outcomes_of(name: str, **kw: str) -> list[str]:
    machines = replay(TRANSCRIPTS / name, **kw)
    assert machines, f"no Originate with ChannelId in {name}"
    return [m.outcome or f"unfinished:{m.state}" for m in machines.values()]


@pytest.mark.parametrize(
    ("transcript", "expected"),
    [
        ("01-originate-answered.txt", ["answered"]),
        ("02-originate-busy-486.txt", ["busy"]),
        ("03-originate-no-answer.txt", ["no_answer"]),
        ("04-originate-404.txt", ["invalid_number"]),
        ("05-originate-503.txt", ["congestion"]),
        # (a) ring timeout looks like no answer, (b) SIP timer B, (c) endpoint not configured
        ("06-originate-unreachable.txt", ["no_answer", "unreachable", "failed"]),
        ("07-originate-local.txt", ["answered", "busy"]),
    ],
)
def test_recorded_calls_get_the_outcome_a_user_expects(
    transcript: str, expected: list[str]
) -> None:
    assert outcomes_of(transcript) == expected


def test_line_cap_of_our_dialplan_is_told_apart_from_carrier_congestion() -> None:
    results = outcomes_of("17-ami-eventfilter-and-channel-limit.txt", tag="AMI<")
    results += outcomes_of("17-ami-eventfilter-and-channel-limit.txt", tag="AMF<")
    # 10 answered calls on the filtered connection, 2 of 4 refused by the cap of 2 lines
    assert results.count("capped") == 2
    assert "congestion" not in results


def test_answering_machine_is_retried_when_the_kind_asks_for_it() -> None:
    assert outcomes_of("18-amd-human-vs-machine.txt", amd_mode="retry") == [
        "answered",
        "machine",
        "answered",
    ]
    assert outcomes_of("18-amd-human-vs-machine.txt") == ["answered"] * 3


def test_dtmf_digits_of_the_callee_are_recorded() -> None:
    machines = replay(TRANSCRIPTS / "15-outbound-menu-dtmf.txt")
    digits = ["".join(m.facts.digits) for m in machines.values()]
    assert digits == ["2", "", "2", "2"]


def test_cancel_while_ringing_hangs_up_and_ends_cancelled() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    m.step("ack")
    m.step("ringing")
    assert m.step("cancel") == ("hangup_call",)
    # Fact 19: OriginateResponse Failure Reason 0, DialEnd NOANSWER, Hangup with our cause.
    m.step("orig_fail", "0")
    m.step("dial_end", "NOANSWER")
    assert m.step("hangup", "16") == ("finish",)
    assert m.outcome == "cancelled"


def test_cancel_leaves_an_answered_call_alone_unless_asked() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    assert m.step("answer", "4") == ("mark_answered",)
    assert m.step("cancel") == ()
    assert m.step("cancel_answered") == ("hangup_call",)
    m.step("hangup", "16")
    assert m.outcome == "answered"


def test_hangup_before_originate_response_is_enough_to_finish() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    assert m.step("hangup", "17") == ("finish",)
    assert m.outcome == "busy"
    assert m.step("orig_fail", "0") == ()  # late response: harmless
    assert m.outcome == "busy"


def test_refused_originate_is_not_sent_and_retried() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    m.step("refused")
    assert m.outcome == "not_sent"
    assert next_attempt("not_sent", 1, "t1") is not None


def test_lost_connection_then_call_still_live_resumes() -> None:
    m = AttemptMachine("a1", TimerSettings(originate_response_s=40))
    m.step("sent", now=0)
    assert m.step("conn_lost", now=1) == ("reconcile",)
    m.step("alive", now=2)
    assert m.state == "ringing" and m.timers["originate_response"] == 42
    m.step("answer", "4", now=3)
    m.step("hangup", "16", now=9)
    assert m.outcome == "answered"


def test_lost_connection_and_call_gone_is_unknown_never_redialled() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    m.step("conn_lost")
    m.step("gone")
    assert m.outcome == "unknown"
    assert next_attempt("unknown", 1, "t1") is None


def test_no_response_at_all_times_out_and_hangs_up_the_channel() -> None:
    m = AttemptMachine("a1", TimerSettings(originate_response_s=45))
    m.step("sent", now=0)
    m.step("ack", now=0)
    assert m.next_deadline() == 45
    assert m.step("timer:originate_response", now=45) == ("hangup_call", "finish")
    assert m.outcome == "unknown"


def test_hangup_during_the_message_is_told_from_a_heard_message() -> None:
    m = AttemptMachine("a1")
    for kind, value in (("sent", ""), ("answer", "4"), ("message", "started"), ("hangup", "16")):
        m.step(kind, value)
    assert m.outcome == "hung_up"
    facts = CallFacts(answered=True, message_started=True, menu_done=True, menu_choice="9")
    assert classify(facts) == "answered"


def test_stale_timer_expiry_is_ignored() -> None:
    m = AttemptMachine("a1")
    m.step("sent")
    m.step("ack")
    assert m.step("timer:originate_ack") == ()


@pytest.mark.parametrize(
    ("outcome", "attempt_no", "retry_at"),
    [
        ("busy", 1, 120),
        ("busy", 2, 120),
        ("busy", 3, None),
        ("no_answer", 1, 300),
        ("no_answer", 2, None),
        ("congestion", 1, 0),
        ("invalid_number", 1, None),
        ("answered", 1, None),
    ],
)
def test_retry_policy(outcome: str, attempt_no: int, retry_at: float | None) -> None:
    nxt = next_attempt(outcome, attempt_no, "t1")
    assert (nxt.delay_s if nxt else None) == retry_at
    if outcome == "congestion" and nxt:
        assert nxt.avoid_trunk == "t1"


def test_every_transition_targets_a_known_state() -> None:
    from engine.dialer.attempt_fsm import STATES

    assert {step.to for step in TRANSITIONS.values()} <= set(STATES)


def test_retry_rules_are_tunable_in_settings() -> None:
    from engine.dialer.outcomes import rules_from_settings

    rules = rules_from_settings({"busy": {"delay_s": 30, "max_attempt_no": 5}, "no_answer": {}})
    assert next_attempt("busy", 4, None, rules).delay_s == 30  # type: ignore[union-attr]
    assert next_attempt("no_answer", 1, None, rules) is None
