"""Less common flows of the simulator: Local channels (07), the channel cap (17), AMD (18),
DTMF (15/20), Redirect and the centralist queue (20).

For Local channels and the queue only the events an engine filters on are produced
(OriginateResponse, DialEnd, Hangup, UserEvent, QueueCaller*, Agent*, DTMF*; transcript 17's
filter set) plus ``Newchannel`` for every channel, not the dozens of VarSet/Newexten around.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from engine.sim import asterisk_events as ev
from engine.sim.asterisk_events import SimChannel
from engine.sim.asterisk_model import REJECTIONS, SimCall

if TYPE_CHECKING:
    from engine.sim.asterisk_calls import CallEngine

AMD_CAUSES = {
    "HUMAN": "HUMAN-800-800",
    "MACHINE": "LONGGREETING-1500-1500",
    "NOTSURE": "TOOLONG-4900",
}


# -- channel cap (17) ------------------------------------------------------------------------
def refuse_capped(engine: CallEngine, call: SimCall) -> None:
    """Direct PJSIP call over ``max_channels``: what the capped dialplan does (17)."""
    ch = call.chan
    assert ch is not None
    cap = engine.config.max_channels or 2
    active = ("Active", str(engine.per_endpoint[call.endpoint] - 1))
    engine.emit(
        ev.user_event(ch, "OutboundCapped", ("Number", call.number), active, ("Max", str(cap)))
    )
    engine.emit(ev.dial_event("DialEnd", ch, None, ("DialStatus", "CONGESTION")))
    engine.emit(engine.originate_response(call, False, 0, call.dial_string))
    engine.emit(ev.hangup(ch, 34))
    engine.finish(call, "capped")


# -- Local channels (07, 17) -----------------------------------------------------------------
def start_local(engine: CallEngine, call: SimCall) -> None:
    seq = next(engine._local_seq)
    base = f"Local/{call.number}@{call.local_context}-{seq:08x}"
    engine.calls[call.channel_id] = call
    engine.per_endpoint[call.endpoint] += 1
    one = call.chan = engine.new_channel(
        call, base + ";1", call.channel_id, context=call.local_context, exten=call.number
    )
    two = call.half2 = engine.new_channel(
        call,
        base + ";2",
        call.other_channel_id or call.channel_id + ";2",
        context=call.local_context,
        exten=call.number,
        state=4,
    )
    for ch in (one, two):
        ch.cid_num = ch.conn_num = call.cid_num or "<unknown>"
        ch.cid_name = ch.conn_name = call.cid_name or "<unknown>"
        engine.emit(ev.channel_event("Newchannel", ch))
    if engine.over_cap(call):
        engine.later(call, 0.005, partial(_local_capped, engine))
        return
    leg = call.leg = engine.new_channel(
        call,
        f"PJSIP/{call.endpoint}-{next(engine._seq):08x}",
        engine.asterisk_uniqueid(),
        exten=call.number,
    )
    engine.emit(ev.channel_event("Newchannel", leg))
    kind = call.outcome.kind
    if kind in REJECTIONS:
        engine.later(
            call, engine.config.reject_s, partial(_local_fail, engine), *REJECTIONS[kind], 0
        )
        return
    ring = call.ring_s
    if kind == "answer" and ring < call.timeout_s:
        engine.later(call, ring, partial(_local_answer, engine))
    else:
        engine.later(call, call.timeout_s, partial(_local_fail, engine), 19, None, "NOANSWER", 3)


def _local_capped(engine: CallEngine, call: SimCall) -> None:
    one, two = call.chan, call.half2
    assert one is not None and two is not None
    cap = engine.config.max_channels or 2
    engine.emit(
        ev.user_event(
            two, "OutboundCapped", ("Number", call.number), ("Active", str(cap)), ("Max", str(cap))
        )
    )
    engine.emit(ev.dial_event("DialEnd", one, None, ("DialStatus", "CONGESTION")))
    engine.emit(ev.hangup(two, 34))
    engine.emit(engine.originate_response(call, False, 0, call.dial_string))
    engine.emit(ev.hangup(one, 34))
    engine.finish(call, "capped")


def _local_fail(
    engine: CallEngine, call: SimCall, cause: int, tech: int | None, status: str, reason: int
) -> None:
    one, two, leg = call.chan, call.half2, call.leg
    assert one is not None and two is not None and leg is not None
    engine.emit(engine.originate_response(call, False, reason, call.dial_string))
    engine.emit(ev.dial_event("DialEnd", leg, two, ("DialStatus", status)))
    engine.emit(ev.hangup(leg, cause, tech))
    engine.emit(ev.hangup(two, cause))
    engine.emit(ev.dial_event("DialEnd", one, None, ("DialStatus", status)))
    engine.emit(ev.hangup(one, cause))
    engine.finish(call, f"rejected_{cause}")


def _local_answer(engine: CallEngine, call: SimCall) -> None:
    one, two, leg = call.chan, call.half2, call.leg
    assert one is not None and two is not None and leg is not None
    call.state, call.answered_at = "up", time.monotonic()
    one.state = leg.state = 6
    leg.exten = ""  # an answered PJSIP leg reports an empty Exten (07)
    engine.emit(ev.dial_event("DialEnd", leg, two, ("DialStatus", "ANSWER")))
    engine.emit(ev.dial_event("DialEnd", one, None, ("DialStatus", "ANSWER")))
    two.state = 6
    engine.emit(engine.originate_response(call, True, 4, one.name))
    one.context, one.exten, one.priority = call.context, call.exten, call.priority
    engine.stats["answered"] += 1
    engine.later(call, call.hold_s, partial(_local_end, engine), 16)


def _local_end(engine: CallEngine, call: SimCall, cause: int) -> None:
    for ch in (call.chan, call.half2, call.leg):
        if ch is not None:
            engine.emit(ev.hangup(ch, cause))
    engine.finish(call, "completed")


def hangup_local(engine: CallEngine, call: SimCall, cause: int) -> None:
    if call.state == "up":
        _local_end(engine, call, cause)
    else:
        _local_fail(engine, call, cause, None, "NOANSWER", 0)


# -- AMD (18) and DTMF (15, 20) ---------------------------------------------------------------
def start_amd(engine: CallEngine, call: SimCall, ch: SimChannel) -> None:
    ch.context, ch.exten = call.context, call.exten
    steps = [
        ("NoOp", f"outbound AMD call to {call.cid_num} on {ch.name}"),
        ("Answer", ""),
        ("AMD", ""),
    ]
    for i, (app, data) in enumerate(steps, start=1):
        ch.priority = i
        engine.emit(ev.newexten(ch, app, data))
    engine.later(call, engine.config.amd_s, partial(_amd_result, engine))


def _amd_result(engine: CallEngine, call: SimCall) -> None:
    ch = call.chan
    assert ch is not None
    status = call.outcome.amd
    cause = AMD_CAUSES.get(status, "TOOLONG-4900")
    campaign = dict(call.variables).get("CAMPAIGN_ID", "")
    engine.emit(ev.varset(ch, "AMDSTATUS", status))
    engine.emit(ev.varset(ch, "AMDCAUSE", cause))
    ch.priority = 4
    data = f"AMDResult,AMDStatus: {status},AMDCause: {cause},CampaignId: {campaign}"
    engine.emit(ev.newexten(ch, "UserEvent", data))
    engine.emit(
        ev.user_event(
            ch, "AMDResult", ("AMDStatus", status), ("AMDCause", cause), ("CampaignId", campaign)
        )
    )
    ch.priority = 5
    engine.emit(ev.newexten(ch, "Playback", engine.fill("{msg}", call, ch)))
    engine.hold(call)


def press_digits(engine: CallEngine, call: SimCall, digits: str) -> None:
    """The callee presses ``digits`` (DTMFBegin, DTMFEnd 0.14 s later, per digit)."""
    ch = call.chan
    if ch is None or call.state not in ("up", "queue"):
        return
    for i, digit in enumerate(digits):
        engine.later(call, 0.3 * i, partial(_dtmf, engine), digit, False)
        engine.later(call, 0.3 * i + 0.14, partial(_dtmf, engine), digit, True)


def _dtmf(engine: CallEngine, call: SimCall, digit: str, end: bool) -> None:
    if call.chan is not None and call.state in ("up", "queue"):
        engine.emit(ev.dtmf(call.chan, digit, end=end))


# -- Redirect and the queue (20) --------------------------------------------------------------
def redirect_flow(
    engine: CallEngine, call: SimCall, ch: SimChannel, context: str, exten: str
) -> None:
    if call.state == "gone":
        return
    for timer in call.timers:
        timer.cancel()  # type: ignore[attr-defined]
    call.timers.clear()
    if ch.application == "Playback":
        engine.emit(ev.varset(ch, "PLAYBACKSTATUS", "SUCCESS"))
    known = context in engine.config.extra_contexts or (context == "to-queue" and exten == "s")
    if not known:
        # 20c: "Redirect successful", then the call is lost with Cause 0.
        engine.emit(ev.channel_event("SoftHangupRequest", ch, ("Cause", "16")))
        ch.context, ch.exten, ch.priority = context, exten, 1
        engine.emit(ev.newexten(ch, "AppDial2", "(Outgoing Line)"))
        engine.emit(ev.hangup(ch, 0))
        engine.finish(call, "redirect_lost")
        return
    ch.context, ch.exten = context, exten
    if context != "to-queue":
        ch.priority = 1
        engine.emit(ev.newexten(ch, "NoOp", f"redirected to {context}"))
        engine.hold(call)
        return
    _join_queue(engine, call, ch)


def _join_queue(engine: CallEngine, call: SimCall, ch: SimChannel) -> None:
    ch.priority = 1
    engine.emit(ev.newexten(ch, "NoOp", f"redirected to the centralist queue: {ch.name}"))
    ch.priority = 2
    engine.emit(ev.newexten(ch, "Queue", "centralist,t,,,300"))
    engine.emit(ev.queue_event("QueueCallerJoin", ch, 1, 1))
    agent = call.agent = engine.new_channel(
        call,
        f"PJSIP/agent-{next(engine._seq):08x}",
        engine.asterisk_uniqueid(),
        context="from-agent",
    )
    agent.linkedid = ch.linkedid
    engine.emit(ev.channel_event("Newchannel", agent))
    engine.emit(ev.agent_event("AgentCalled", ch, agent))
    call.state = "queue"
    engine.later(call, engine.config.agent_ring_s, partial(_agent_answers, engine))


def _agent_answers(engine: CallEngine, call: SimCall) -> None:
    ch, agent = call.chan, call.agent
    assert ch is not None and agent is not None
    agent.state = 6
    ring = str(round(engine.config.agent_ring_s))
    engine.emit(ev.dial_event("DialEnd", agent, ch, ("DialStatus", "ANSWER")))
    engine.emit(ev.queue_event("QueueCallerLeave", ch, 1, 0))
    engine.emit(ev.agent_event("AgentConnect", ch, agent, ("HoldTime", ring), ("RingTime", ring)))
    engine.later(call, call.hold_s, partial(_queue_end, engine), 16)


def _queue_end(engine: CallEngine, call: SimCall, cause: int) -> None:
    hangup_queue(engine, call, cause)
    engine.finish(call, "queue_completed")


def hangup_queue(engine: CallEngine, call: SimCall, cause: int) -> None:
    ch, agent = call.chan, call.agent
    assert ch is not None
    if agent is not None and agent.state == 6:
        talk = str(round(time.monotonic() - ch.created))
        engine.emit(ev.channel_event("HangupRequest", ch))
        engine.emit(
            ev.agent_event(
                "AgentComplete",
                ch,
                agent,
                ("HoldTime", "2"),
                ("TalkTime", talk),
                ("Reason", "caller"),
            )
        )
    engine.emit(ev.channel_event("SoftHangupRequest", ch, ("Cause", "16")))
    engine.emit(ev.hangup(ch, cause))
    if agent is not None:
        engine.emit(ev.hangup(agent, cause))
