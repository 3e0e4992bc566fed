"""The life of one call attempt as a table of transitions with named timers (pure, no I/O).

``AttemptMachine.step(kind, value, now)`` applies a :class:`~engine.dialer.call_events.Signal`
(or a timer expiry, kind ``"timer:<name>"``) and returns the effects the service must carry
out (hang the channel up, mark the participant reached, reconcile, finish). Signals that make
no sense in the current state are ignored: Asterisk's event order is not fixed (fact 3), so
late or duplicate events must be harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.dialer.outcomes import CallFacts, classify

__all__ = ["STATES", "TRANSITIONS", "AttemptMachine", "Step", "TimerSettings"]

STATES = (
    "queued",
    "originating",  # Originate written; no call progress seen yet
    "ringing",
    "failing",  # OriginateResponse Failure seen; waiting briefly for the Hangup and its Cause
    "answered",
    "menu",  # the message was played and the menu answered (UserEvent BnetMenu)
    "cancelling",  # we sent Hangup for a cancelled action
    "limbo",  # AMI connection lost: reconcile with CoreShowChannels decides
    "ended",
)
_PRE_ANSWER = ("originating", "ringing")


@dataclass(frozen=True, slots=True)
class TimerSettings:
    originate_ack_s: float = 5.0  # Asterisk acks an Async Originate within ms (fact 1, 8)
    originate_response_s: float = 45.0  # originate timeout + margin
    hangup_grace_s: float = 2.0  # unknown endpoint: Failure and no channel events ever
    max_call_s: float = 900.0


@dataclass(frozen=True, slots=True)
class Step:
    to: str
    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()


_ALL_TIMERS = ("originate_ack", "originate_response", "hangup_grace", "max_call")
_END = Step("ended", stop=_ALL_TIMERS, effects=("finish",))


def _table() -> dict[tuple[str, str], Step]:
    t: dict[tuple[str, str], Step] = {
        ("queued", "sent"): Step("originating", start=("originate_ack", "originate_response")),
        ("queued", "cancel"): _END,
        ("queued", "refused"): _END,  # never written: a bad number or an unsafe value
        ("originating", "ack"): Step("originating", stop=("originate_ack",)),
        ("originating", "refused"): _END,
        ("originating", "timer:originate_ack"): Step("limbo", effects=("reconcile",)),
        ("failing", "timer:hangup_grace"): _END,
        ("failing", "hangup"): _END,
        ("failing", "cancel"): Step("failing"),
        ("cancelling", "hangup"): _END,
        ("cancelling", "timer:hangup_grace"): _END,
        ("limbo", "gone"): _END,
        # Events that arrive while CoreShowChannels is being listed: the call is over anyway.
        ("limbo", "hangup"): _END,
        ("limbo", "orig_fail"): Step("failing", start=("hangup_grace",)),
        ("answered", "menu"): Step("menu"),
        ("answered", "machine_detected"): Step("answered", effects=("hangup_call",)),
        ("ended", "cancel"): Step("ended"),
    }
    for state in _PRE_ANSWER:
        t[(state, "ringing")] = Step("ringing")
        t[(state, "answer")] = Step(
            "answered",
            start=("max_call",),
            stop=("originate_ack", "originate_response"),
            effects=("mark_answered",),
        )
        t[(state, "orig_fail")] = Step(
            "failing", start=("hangup_grace",), stop=("originate_ack", "originate_response")
        )
        t[(state, "hangup")] = _END
        t[(state, "timer:originate_response")] = Step(
            "ended", stop=_ALL_TIMERS, effects=("hangup_call", "finish")
        )
        t[(state, "cancel")] = Step(
            "cancelling", start=("hangup_grace",), effects=("hangup_call",)
        )
        t[(state, "conn_lost")] = Step("limbo", effects=("reconcile",))
    t[("failing", "answer")] = t[("originating", "answer")]
    for state in ("answered", "menu"):
        t[(state, "hangup")] = _END
        t[(state, "timer:max_call")] = Step(state, effects=("hangup_call",))
        t[(state, "cancel_answered")] = Step(state, effects=("hangup_call",))
        t[(state, "conn_lost")] = Step("limbo", effects=("reconcile",))
    return t


#: (state, signal kind) -> Step. Anything not listed is ignored.
TRANSITIONS: dict[tuple[str, str], Step] = _table()


@dataclass(slots=True)
class AttemptMachine:
    """State, facts and running timers of one attempt."""

    attempt_id: str
    timers_cfg: TimerSettings = field(default_factory=TimerSettings)
    state: str = "queued"
    facts: CallFacts = field(default_factory=CallFacts)
    timers: dict[str, float] = field(default_factory=dict)
    outcome: str | None = None
    _before_limbo: str = "originating"

    def step(self, kind: str, value: str = "", now: float = 0.0) -> tuple[str, ...]:
        """Apply one signal; returns the effects to carry out (possibly none)."""
        kind = self._refine(kind, value)
        if kind.startswith("timer:") and kind[6:] not in self.timers:
            return ()  # a stale expiry of a timer already stopped
        self._learn(kind, value)
        if self.state == "limbo" and kind == "alive":
            return self._resume(value, now)
        step = TRANSITIONS.get((self.state, kind))
        if step is None:
            return ()
        if step.to == "limbo":
            self._before_limbo = self.state
        self.state = step.to
        for name in step.stop:
            self.timers.pop(name, None)
        for name in step.start:
            self.timers[name] = now + self._duration(name)
        if "finish" in step.effects:
            self.outcome = classify(self.facts)
        return step.effects

    def _resume(self, channel_state: str, now: float) -> tuple[str, ...]:
        """The call is still up after a reconnect: carry on, its next events will follow.

        ``channel_state`` is CoreShowChannel's ChannelStateDesc: "Up" means it was answered
        while we were away (the OriginateResponse went to the dropped connection)."""
        effects: tuple[str, ...] = ()
        if channel_state.lower() == "up" and not self.facts.answered:
            self.facts.answered = True
            effects = ("mark_answered",)
        self.timers.pop("originate_ack", None)
        if self.facts.answered:
            self.state = "answered"
            self.timers.pop("originate_response", None)
            self.timers["max_call"] = now + self._duration("max_call")
        else:
            self.state = "ringing"
            self.timers["originate_response"] = now + self._duration("originate_response")
        return effects

    def _refine(self, kind: str, value: str) -> str:
        if kind == "amd" and value == "MACHINE" and self.facts.amd_mode == "retry":
            return "machine_detected"
        return kind

    def _learn(self, kind: str, value: str) -> None:
        f = self.facts
        if kind == "answer":
            f.answered = True
        elif kind == "orig_fail":
            f.reason = value
        elif kind == "hangup":
            f.cause = int(value) if value.isdigit() else 0
        elif kind == "dial_end":
            f.dial_status = value
            f.answered = f.answered or value == "ANSWER"
        elif kind == "capped":
            f.capped = True
        elif kind == "refused":
            f.refused = True
        elif kind in ("cancel", "cancel_answered"):
            f.cancelled = True
        elif kind == "gone":
            f.lost = True
        elif kind in ("amd", "machine_detected"):
            f.amd = value
        elif kind == "dtmf":
            f.digits.append(value)
        elif kind == "message":
            f.message_started = True
        elif kind == "menu":
            f.menu_done, f.menu_choice = True, value
        elif kind == "timer:originate_response":
            f.lost = True

    def _duration(self, name: str) -> float:
        cfg = self.timers_cfg
        return {
            "originate_ack": cfg.originate_ack_s,
            "originate_response": cfg.originate_response_s,
            "hangup_grace": cfg.hangup_grace_s,
            "max_call": cfg.max_call_s,
        }[name]

    @property
    def finished(self) -> bool:
        return self.state == "ended"

    def next_deadline(self) -> float | None:
        return min(self.timers.values()) if self.timers else None
