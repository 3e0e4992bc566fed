"""What became of a call, from the facts Asterisk gave us, and what to do next (pure data).

Classification follows the recorded behaviour of Asterisk 22 (transcripts README, fact 2):
the OriginateResponse Reason only separates answered (4) from ring-timeout (3); busy, 404,
503, SIP timeout and an unknown endpoint are all Reason 0, so the Hangup Cause of the
originated channel decides, then the DialEnd DialStatus, then the Reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RETRY_RULES",
    "FLAG_NUMBER_OUTCOMES",
    "OUTCOMES",
    "REACHED",
    "CallFacts",
    "RetryRule",
    "classify",
    "next_attempt",
    "rules_from_settings",
]

ANSWERED = "answered"
OUTCOMES = (
    ANSWERED,
    "hung_up",  # answered, but hung up before the message ended
    "machine",  # an answering machine picked up and the kind says: try again later
    "machine_message",  # the message was left on an answering machine
    "busy",
    "no_answer",
    "invalid_number",  # unallocated / invalid number format: never retry, flag it
    "congestion",  # carrier 503 or Q.850 congestion
    "capped",  # our own dialplan line cap (UserEvent OutboundCapped), not the carrier
    "unreachable",  # no response, subscriber absent, out of order
    "rejected",
    "failed",  # no channel at all (unknown endpoint) or a cause we cannot place
    "not_sent",  # Asterisk refused the Originate (shutting down): nobody was called
    "cancelled",
    "unknown",  # result lost with the AMI connection; never redialled (could be a duplicate)
    "duplicate",  # the claim key says this call was already placed: not called again
)
#: Outcomes that count as "the participant heard us" (ActionTarget.reached_by = voice).
REACHED = frozenset({ANSWERED, "hung_up"})

#: Q.850 cause -> outcome. 16 without an answer is a remote clear before answer.
CAUSE_OUTCOME: dict[int, str] = {
    1: "invalid_number",
    3: "invalid_number",
    22: "invalid_number",
    28: "invalid_number",
    17: "busy",
    19: "no_answer",
    18: "unreachable",
    20: "unreachable",
    27: "unreachable",
    102: "unreachable",
    34: "congestion",
    38: "congestion",
    41: "congestion",
    42: "congestion",
    44: "congestion",
    21: "rejected",
    16: "rejected",
}
DIAL_STATUS_OUTCOME: dict[str, str] = {
    "BUSY": "busy",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "unreachable",
    "NOANSWER": "no_answer",
}


@dataclass(slots=True)
class CallFacts:
    """Everything learned about one attempt so far (filled in as events arrive)."""

    answered: bool = False
    reason: str | None = None  # OriginateResponse Reason
    cause: int | None = None  # Hangup Cause of the originated channel
    dial_status: str | None = None
    capped: bool = False
    refused: bool = False
    unsendable: bool = False  # bad number or unsafe value: never sent, never retried
    cancelled: bool = False  # the engine hung it up because the action was cancelled
    lost: bool = False  # the result went with a dropped AMI connection
    amd: str | None = None
    amd_mode: str = "off"
    message_started: bool = False
    menu_done: bool = False
    menu_choice: str = ""
    digits: list[str] = field(default_factory=list)


def classify(facts: CallFacts) -> str:
    """The outcome of a finished attempt (see the module docstring for the order)."""
    if facts.answered:
        return _answered_outcome(facts)
    if facts.unsendable:
        return "failed"
    if facts.refused:
        return "not_sent"
    if facts.cancelled:
        return "cancelled"
    if facts.capped:
        return "capped"
    if facts.cause is not None and facts.cause in CAUSE_OUTCOME:
        return CAUSE_OUTCOME[facts.cause]
    if facts.dial_status in DIAL_STATUS_OUTCOME:
        return DIAL_STATUS_OUTCOME[facts.dial_status or ""]
    if facts.lost:
        return "unknown"
    if facts.reason == "3":
        return "no_answer"
    return "failed"


def _answered_outcome(facts: CallFacts) -> str:
    if facts.amd == "MACHINE" and facts.amd_mode == "retry":
        return "machine"
    if facts.amd == "MACHINE" and facts.amd_mode == "leave_message":
        return "machine_message"
    # Only our dialplan says when the message started/ended (UserEvent BnetMessage/BnetMenu);
    # without those events an answered call counts as heard.
    if facts.message_started and not facts.menu_done:
        return "hung_up"
    return ANSWERED


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Retry after ``delay_s`` while the attempt number is below ``max_attempt_no``."""

    delay_s: float
    max_attempt_no: int
    other_trunk: bool = False


DEFAULT_RETRY_RULES: dict[str, RetryRule] = {
    "busy": RetryRule(delay_s=120, max_attempt_no=3),  # 2 retries
    "no_answer": RetryRule(delay_s=300, max_attempt_no=2),  # 1 retry
    "congestion": RetryRule(delay_s=0, max_attempt_no=3, other_trunk=True),
    "capped": RetryRule(delay_s=0, max_attempt_no=5),
    "unreachable": RetryRule(delay_s=300, max_attempt_no=2),
    "not_sent": RetryRule(delay_s=0, max_attempt_no=5),
    "machine": RetryRule(delay_s=600, max_attempt_no=2),
}


def rules_from_settings(raw: dict[str, dict[str, float | bool]]) -> dict[str, RetryRule]:
    """``[dialer] retry`` over the defaults; an empty table for an outcome disables it."""
    rules = dict(DEFAULT_RETRY_RULES)
    for outcome, values in raw.items():
        if not values:
            rules.pop(outcome, None)
            continue
        rules[outcome] = RetryRule(
            delay_s=float(values.get("delay_s", 0)),
            max_attempt_no=int(values.get("max_attempt_no", 2)),
            other_trunk=bool(values.get("other_trunk", False)),
        )
    return rules


#: Outcomes that flag the number to relatiebeheer (Phone.invalid_since) and never retry.
FLAG_NUMBER_OUTCOMES = frozenset({"invalid_number"})


@dataclass(frozen=True, slots=True)
class NextAttempt:
    attempt_no: int
    delay_s: float
    avoid_trunk: str | None


def next_attempt(
    outcome: str,
    attempt_no: int,
    trunk: str | None,
    rules: dict[str, RetryRule] | None = None,
) -> NextAttempt | None:
    """The retry to schedule for this outcome, or None."""
    rule = (rules if rules is not None else DEFAULT_RETRY_RULES).get(outcome)
    if rule is None or outcome in FLAG_NUMBER_OUTCOMES or attempt_no >= rule.max_attempt_no:
        return None
    return NextAttempt(attempt_no + 1, rule.delay_s, trunk if rule.other_trunk else None)
