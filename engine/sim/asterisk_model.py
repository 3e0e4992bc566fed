"""Configuration and call records of the Asterisk simulator (no I/O).

``SimConfig`` says which endpoints exist, how numbers behave (``numbers`` for exact ones,
``weights`` for the rest, drawn with a seeded RNG), ring/hold time distributions, the time scale
and the channel cap.  ``Outcome`` names one behaviour, each taken from a transcript:

========== ============================================== ===========================
kind        what the callee does                           transcript / result
========== ============================================== ===========================
answer      rings ``ring_s``, answers, stays ``hold_s``     01: Reason 4, Cause 16
busy        486 after ``reject_s``                          02: Reason 0, Cause 17, BUSY
notfound    404                                             04: Reason 0, Cause 1, NOANSWER
congestion  503                                             05: Reason 0, Cause 34, CONGESTION
noanswer    rings until the Originate Timeout               03: Reason 3, Cause 19
unreachable nothing listens: Timeout <= 32 s like noanswer  06: Reason 3/19, or at 32 s
            without ringing; longer: SIP timer B at 32 s        Reason 0, Cause 18, NOANSWER
========== ============================================== ===========================

An unknown endpoint gives an immediate Failure Reason 0 and no channel events (06c); an
endpoint over ``max_channels`` the dialplan cap of transcript 17 (UserEvent OutboundCapped,
CONGESTION, Cause 34).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from engine.sim.asterisk_events import SimChannel

__all__ = [
    "OUTCOME_KINDS",
    "OriginateRecord",
    "Outcome",
    "SimCall",
    "SimConfig",
    "plan_outcome",
    "plan_times",
]

OUTCOME_KINDS = ("answer", "busy", "notfound", "congestion", "noanswer", "unreachable")
#: (Hangup Cause, SIP status as TechCause, DialStatus) of the rejections (02, 04, 05).
REJECTIONS = {
    "busy": (17, 486, "BUSY"),
    "notfound": (1, 404, "NOANSWER"),
    "congestion": (34, 503, "CONGESTION"),
}
SIP_TIMER_B_S = 32.0


@dataclass(frozen=True)
class Outcome:
    kind: str = "answer"
    ring_s: float | None = None
    hold_s: float | None = None
    #: AMDSTATUS reported in an AMD context (HUMAN, MACHINE, NOTSURE).
    amd: str = "HUMAN"
    #: Digits the callee presses ``dtmf_after_s`` after the answer (DTMFBegin/DTMFEnd).
    dtmf: str = ""
    dtmf_after_s: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in OUTCOME_KINDS:
            raise ValueError(f"unknown outcome {self.kind!r}; use one of {OUTCOME_KINDS}")


@dataclass
class SimConfig:
    username: str = "engine"
    secret: str = "engine-secret"
    #: PJSIP endpoints that exist; anything else is "unknown endpoint" (06c).
    endpoints: tuple[str, ...] = ("trunk",)
    #: Concurrent calls per endpoint before the dialplan cap refuses (17); None = no cap.
    max_channels: int | None = None
    numbers: dict[str, Outcome] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=lambda: {"answer": 1.0})
    ring_time_s: tuple[float, float] = (2.0, 6.0)
    #: Hold time of an answered call: (mean, standard deviation), at least 1 s.
    hold_time_s: tuple[float, float] = (30.0, 5.0)
    reject_s: float = 0.2
    amd_s: float = 1.5
    agent_ring_s: float = 2.0
    #: Simulated seconds are multiplied by this (0.001: a 30 s hold lasts 30 ms).
    time_scale: float = 1.0
    seed: int = 1
    bad_login_delay_s: float = 1.0
    #: Delay before every action response (fault injection).
    response_delay_s: float = 0.0
    #: After this many Originates in total, drop the connection that sent the last one
    #: *before* answering it (the call still goes ahead: a lost response).
    drop_after_originates: int | None = None
    #: Contexts whose dialplan runs AMD() and sends UserEvent AMDResult (18).
    amd_contexts: tuple[str, ...] = ("outbound-amd",)
    #: Contexts a Redirect may target besides the built-in ones (anything else drops the call).
    extra_contexts: tuple[str, ...] = ()
    #: ``async on_answer(call)``: the answered call's dialplan time (e.g. drive a FastAGI
    #: session, ``engine.sim.asterisk_agi.fastagi_on_answer``, or ``call.sim.press(...)``
    #: digits); the call ends normally when it returns.  Without a hook the call holds for
    #: its hold time and ``Outcome.dtmf`` digits are pressed ``dtmf_after_s`` after answer.
    on_answer: Callable[[SimCall], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class OriginateRecord:
    action_id: str
    channel_id: str
    channel: str
    at: float
    outcome: str


@dataclass(slots=True)
class SimCall:
    """One Originate and the channels it created."""

    action_id: str
    channel_id: str
    dial_string: str
    tech: str  # "PJSIP" or "Local"
    number: str
    endpoint: str
    context: str
    exten: str
    priority: int
    application: tuple[str, str] | None
    variables: list[tuple[str, str]]
    cid_num: str
    cid_name: str
    timeout_s: float
    outcome: Outcome
    ring_s: float
    hold_s: float
    other_channel_id: str = ""
    local_context: str = ""
    chan: SimChannel | None = None
    half2: SimChannel | None = None
    leg: SimChannel | None = None
    agent: SimChannel | None = None
    state: str = "dialling"  # dialling, ringing, up, queue, gone
    timers: list[object] = field(default_factory=list)
    answered_at: float = 0.0
    #: The ``AsteriskSim`` that runs the call (for ``on_answer`` hooks: ``call.sim.press``).
    sim: Any = None

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return tuple(c.uniqueid for c in (self.chan, self.half2, self.leg) if c is not None)


def plan_outcome(config: SimConfig, number: str, rng: random.Random) -> Outcome:
    """The outcome of one call: per number, else drawn from ``weights``."""
    exact = config.numbers.get(number)
    if exact is not None:
        return exact
    kinds = list(config.weights)
    kind = rng.choices(kinds, weights=[config.weights[k] for k in kinds])[0]
    return Outcome(kind=kind)


def plan_times(config: SimConfig, outcome: Outcome, rng: random.Random) -> tuple[float, float]:
    """(ring time, hold time) of one call."""
    return ring_time(config, outcome, rng), hold_time(config, outcome, rng)


def ring_time(config: SimConfig, outcome: Outcome, rng: random.Random) -> float:
    if outcome.ring_s is not None:
        return outcome.ring_s
    low, high = config.ring_time_s
    return rng.uniform(low, high)


def hold_time(config: SimConfig, outcome: Outcome, rng: random.Random) -> float:
    if outcome.hold_s is not None:
        return outcome.hold_s
    mean, sd = config.hold_time_s
    return max(1.0, rng.gauss(mean, sd))
