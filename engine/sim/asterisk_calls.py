"""Call engine of the Asterisk simulator: Originate -> the event sequences of the transcripts.

Timers are ``loop.call_later`` callbacks (no task per call) so thousands of calls stay cheap.
Every flow emits the events of one transcript in its order; event-by-event references:
answered 01, busy 02, no answer 03, 404 04, 503 05, unreachable/unknown endpoint 06, AMI
Hangup 19, Redirect 20, AMD 18, channel cap 17.  Local channels and the queue live in
``asterisk_flows``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from engine.dialer.ami_protocol import AmiMessage
from engine.sim import asterisk_events as ev
from engine.sim.asterisk_events import Pairs, SimChannel
from engine.sim.asterisk_model import (
    REJECTIONS,
    SIP_TIMER_B_S,
    OriginateRecord,
    SimCall,
    SimConfig,
    plan_outcome,
    plan_times,
)

__all__ = ["CallEngine", "OriginateError"]

#: Dialplan of the example contexts as (application, data) before and after the blocking
#: Playback; ``{cid}``, ``{chan}``, ``{msg}`` are filled in (example-conf/extensions.conf).
DIALPLANS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "outbound-msg": (
        [("NoOp", "outbound message to {cid} on {chan}"), ("Answer", ""), ("Playback", "{msg}")],
        [("NoOp", "PLAYBACKSTATUS=SUCCESS"), ("Hangup", "")],
    ),
    "outbound-menu": (
        [("NoOp", "outbound menu call to {cid} on {chan}"), ("Answer", ""), ("Playback", "{msg}")],
        [
            ("NoOp", "PLAYBACKSTATUS=SUCCESS"),
            ("AGI", "agi://127.0.0.1:14573/menu"),
            ("NoOp", "AGISTATUS=SUCCESS MENU_CHOICE=timeout"),
            ("GotoIf", "0?centralist"),
            ("Hangup", ""),
        ],
    ),
}
GENERIC_PLAN = (
    [("NoOp", "outbound call to {cid} on {chan}"), ("Answer", ""), ("Playback", "{msg}")],
    [("Hangup", "")],
)
QUEUE_CONTEXT = "to-queue"
#: SIP status Asterisk reports as TechCause when an AMI Hangup sends this Cause (19).
HANGUP_TECH_CAUSE = {21: 403}


class OriginateError(Exception):
    """An Originate Asterisk refuses at once (``Response: Error``)."""


class CallEngine:
    def __init__(self, config: SimConfig, emit: Callable[[Pairs], None]) -> None:
        self.config = config
        self.emit = emit
        self.rng = random.Random(config.seed)
        self.calls: dict[str, SimCall] = {}  # live calls by ChannelId
        self.channels: dict[str, tuple[SimChannel, SimCall]] = {}  # live channels by name
        self.per_endpoint: Counter[str] = Counter()
        self.originates: list[OriginateRecord] = []
        self.stats: Counter[str] = Counter()
        self._seq = itertools.count()
        self._local_seq = itertools.count()
        self._epoch = int(time.time())
        self._tasks: set[asyncio.Task[None]] = set()
        #: The AsteriskSim this engine belongs to (handed to on_answer hooks as ``call.sim``).
        self.owner: Any = None

    # -- helpers ------------------------------------------------------------------------------
    def later(self, call: SimCall, delay_s: float, fn: Callable[..., None], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        call.timers.append(loop.call_later(delay_s * self.config.time_scale, fn, call, *args))

    def soon(self, fn: Callable[..., None], *args: Any) -> None:
        asyncio.get_running_loop().call_soon(fn, *args)

    def new_channel(self, call: SimCall, name: str, uniqueid: str, **kw: Any) -> SimChannel:
        ch = SimChannel(name, uniqueid, call.channel_id, created=time.monotonic(), **kw)
        self.channels[name] = (ch, call)
        return ch

    def asterisk_uniqueid(self) -> str:
        return f"{self._epoch}.{next(self._seq)}"

    # -- Originate ----------------------------------------------------------------------------
    def originate(self, msg: AmiMessage) -> SimCall:
        """Validate an Originate and create its call; ``start()`` it after the response."""
        channel = msg.get("Channel")
        if not channel:
            raise OriginateError("Channel not specified")
        tech, _, rest = channel.partition("/")
        number, _, where = rest.partition("@")
        app = msg.get("Application")
        call = SimCall(
            action_id=msg.action_id or "",
            channel_id=msg.get("ChannelId") or self.asterisk_uniqueid(),
            dial_string=channel,
            tech="Local" if tech.lower() == "local" else "PJSIP",
            number=number,
            endpoint=where if tech.lower() != "local" else self.config.endpoints[0],
            context=msg.get("Context") or "default",
            exten=msg.get("Exten") or "s",
            priority=int(msg.get("Priority") or 1),
            application=(app, msg.get("Data") or "") if app else None,
            variables=[tuple(v.split("=", 1)) for v in msg.get_all("Variable") if "=" in v],  # type: ignore[misc]
            cid_num=_cid(msg.get("CallerID") or "")[0],
            cid_name=_cid(msg.get("CallerID") or "")[1],
            timeout_s=int(msg.get("Timeout") or 30000) / 1000,
            outcome=plan_outcome(self.config, number, self.rng),
            ring_s=0.0,
            hold_s=0.0,
            other_channel_id=msg.get("OtherChannelId") or "",
        )
        call.sim = self.owner
        if call.tech == "Local":
            call.local_context = where
        # Drawn now, in arrival order, so a seed reproduces every call whatever the timing.
        call.ring_s, call.hold_s = plan_times(self.config, call.outcome, self.rng)
        self.originates.append(
            OriginateRecord(
                call.action_id, call.channel_id, channel, time.monotonic(), call.outcome.kind
            )
        )
        self.stats["originates"] += 1
        return call

    def start(self, call: SimCall) -> None:
        if call.tech == "Local":
            from engine.sim.asterisk_flows import start_local

            start_local(self, call)
            return
        if call.endpoint not in self.config.endpoints:
            # 06c: immediate Failure, no channel at all.
            self.emit(self.originate_response(call, False, 0, call.dial_string))
            self.stats["unknown_endpoint"] += 1
            return
        self.calls[call.channel_id] = call
        self.per_endpoint[call.endpoint] += 1
        seq = next(self._seq)
        ch = call.chan = self.new_channel(call, f"PJSIP/{call.endpoint}-{seq:08x}", call.channel_id)
        self.emit_channel_setup(call, ch)
        self.emit(
            ev.dial_event("DialBegin", ch, None, ("DialString", f"{call.number}@{call.endpoint}"))
        )
        if self.over_cap(call):
            from engine.sim.asterisk_flows import refuse_capped

            self.later(call, 0.005, partial(refuse_capped, self))
            return
        self.schedule_outcome(call)

    def emit_channel_setup(self, call: SimCall, ch: SimChannel) -> None:
        self.emit(ev.channel_event("Newchannel", ch))
        self.emit(ev.newexten(ch, "AppDial2", "(Outgoing Line)"))
        for name, value in reversed(call.variables):  # Asterisk sets them last-first (01)
            self.emit(ev.varset(ch, name, value))
        ch.cid_num, ch.cid_name = call.cid_num or "<unknown>", call.cid_name or "<unknown>"
        pres = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        self.emit(ev.channel_event("NewCallerid", ch, pres))
        ch.conn_num, ch.conn_name = ch.cid_num, ch.cid_name
        self.emit(ev.channel_event("NewConnectedLine", ch))

    def over_cap(self, call: SimCall) -> bool:
        cap = self.config.max_channels
        if call.local_context.endswith("-capped") and cap is None:
            cap = 2  # TRUNK_MAX of example-conf
        return cap is not None and self.per_endpoint[call.endpoint] > cap

    def schedule_outcome(self, call: SimCall) -> None:
        kind, timeout = call.outcome.kind, call.timeout_s
        if kind in REJECTIONS:
            self.later(call, self.config.reject_s, self.reject, *REJECTIONS[kind])
        elif kind == "unreachable":
            if timeout <= SIP_TIMER_B_S:
                self.later(call, timeout, self.no_answer)
            else:
                self.later(call, SIP_TIMER_B_S, self.reject, 18, 408, "NOANSWER")
        else:
            self.later(call, 0.002, self.ringing)
            ring = call.ring_s
            if kind == "answer" and ring < timeout:
                self.later(call, ring, self.answer)
            else:
                self.later(call, timeout, self.no_answer)

    def originate_response(self, call: SimCall, success: bool, reason: int, channel: str) -> Pairs:
        return ev.originate_response(
            call.action_id,
            success,
            channel,
            call.context,
            call.exten,
            reason,
            call.channel_id,
            call.cid_num or "<unknown>",
            call.cid_name or "<unknown>",
            application=call.application,
        )

    # -- PJSIP flows --------------------------------------------------------------------------
    def ringing(self, call: SimCall) -> None:
        ch = call.chan
        if ch is None or call.state != "dialling":
            return
        call.state, ch.state = "ringing", 5
        self.emit(ev.channel_event("Newstate", ch))
        self.emit(ev.device_state(f"PJSIP/{call.endpoint}", "RINGING"))
        self.emit(ev.dial_event("DialState", ch, None, ("DialStatus", "RINGING")))

    def reject(self, call: SimCall, cause: int, tech: int, dial_status: str) -> None:
        ch = call.chan
        assert ch is not None
        self.emit(ev.hangup_request(ch, cause, tech))
        dial_end = ev.dial_event("DialEnd", ch, None, ("DialStatus", dial_status))
        failure = self.originate_response(call, False, 0, call.dial_string)
        # 02: OriginateResponse before DialEnd on busy; 04/05/06b: after it.
        self.emit(failure if cause == 17 else dial_end)
        self.emit(dial_end if cause == 17 else failure)
        self.emit(ev.hangup(ch, cause, tech))
        self.finish(call, f"rejected_{cause}")

    def no_answer(self, call: SimCall) -> None:
        ch = call.chan
        assert ch is not None
        self.emit(self.originate_response(call, False, 3, call.dial_string))
        self.emit(ev.hangup(ch, 19, 480))
        if call.state == "ringing":
            self.emit(ev.device_state(f"PJSIP/{call.endpoint}", "NOT_INUSE"))
        self.finish(call, "no_answer")

    def answer(self, call: SimCall) -> None:
        ch = call.chan
        assert ch is not None
        call.state, ch.state, call.answered_at = "up", 6, time.monotonic()
        self.emit(ev.channel_event("Newstate", ch))
        self.emit(ev.dial_event("DialEnd", ch, None, ("DialStatus", "ANSWER")))
        self.emit(self.originate_response(call, True, 4, ch.name))
        self.run_dialplan(call, ch)
        self.emit(ev.device_state(f"PJSIP/{call.endpoint}", "INUSE"))
        self.stats["answered"] += 1

    def run_dialplan(self, call: SimCall, ch: SimChannel) -> None:
        """Enter the originate's context (or application) up to its blocking step."""
        from engine.sim.asterisk_flows import press_digits, start_amd

        if call.outcome.dtmf and self.config.on_answer is None:
            self.later(
                call, call.outcome.dtmf_after_s, partial(press_digits, self), call.outcome.dtmf
            )
        if call.application is not None:
            ch.application, ch.app_data = call.application
        elif call.context in self.config.amd_contexts:
            start_amd(self, call, ch)
            return
        else:
            ch.context, ch.exten = call.context, call.exten
            pre, _ = DIALPLANS.get(call.context, GENERIC_PLAN)
            for i, (app, data) in enumerate(pre, start=call.priority):
                ch.priority = i
                self.emit(ev.newexten(ch, app, self.fill(data, call, ch)))
        self.hold(call)

    def hold(self, call: SimCall) -> None:
        hook = self.config.on_answer
        if hook is None:
            self.later(call, call.hold_s, self.end_normal)
            return

        async def run_hook() -> None:
            try:
                await hook(call)
            finally:
                if call.state == "up":
                    self.end_normal(call)

        task = asyncio.get_running_loop().create_task(run_hook())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def fill(self, data: str, call: SimCall, ch: SimChannel) -> str:
        msg = dict(call.variables).get("MSG_FILE") or "beep"
        return data.format(cid=call.cid_num, chan=ch.name, msg=msg)

    def end_normal(self, call: SimCall) -> None:
        """The message played and the dialplan's Hangup() ran (01)."""
        ch = call.chan
        if call.state != "up" or ch is None:
            return
        self.emit(ev.varset(ch, "PLAYBACKSTATUS", "SUCCESS"))
        _, post = DIALPLANS.get(call.context, GENERIC_PLAN)
        if call.application is None:
            for app, data in post:
                ch.priority += 1
                self.emit(ev.newexten(ch, app, self.fill(data, call, ch)))
        self.hang_up_up_channel(call, ch, 16)
        self.finish(call, "completed")

    def hang_up_up_channel(self, call: SimCall, ch: SimChannel, cause: int) -> None:
        self.emit(ev.channel_event("SoftHangupRequest", ch, ("Cause", "16")))
        for name, value in ev.RTP_QOS:
            self.emit(ev.varset(ch, name, value))
        self.emit(ev.hangup(ch, cause, HANGUP_TECH_CAUSE.get(cause)))
        self.emit(ev.device_state(f"PJSIP/{call.endpoint}", "NOT_INUSE"))

    def finish(self, call: SimCall, result: str) -> None:
        if call.state == "gone":
            return
        call.state = "gone"
        for timer in call.timers:
            timer.cancel()  # type: ignore[attr-defined]
        call.timers.clear()
        for ch in (call.chan, call.half2, call.leg, call.agent):
            if ch is not None:
                self.channels.pop(ch.name, None)
        if self.calls.pop(call.channel_id, None) is not None:
            self.per_endpoint[call.endpoint] -= 1
        self.stats[result] += 1

    # -- actions on live channels --------------------------------------------------------------
    def find(self, channel: str) -> tuple[SimChannel, SimCall] | None:
        return self.channels.get(channel)

    def hangup_action(self, channel: str, cause: int) -> bool:
        found = self.find(channel)
        if found is None:
            return False
        self.soon(self._hangup_flow, found[1], cause)
        return True

    def _hangup_flow(self, call: SimCall, cause: int) -> None:
        from engine.sim.asterisk_flows import hangup_local, hangup_queue

        ch = call.chan
        if call.state == "gone" or ch is None:
            return
        if call.tech == "Local":
            hangup_local(self, call, cause)
        elif call.state == "queue":
            hangup_queue(self, call, cause)
        elif call.state == "up":
            if ch.application == "Playback":
                self.emit(ev.varset(ch, "PLAYBACKSTATUS", "SUCCESS"))
            self.hang_up_up_channel(call, ch, cause)
        else:  # 19: CANCEL of a ringing call
            self.emit(self.originate_response(call, False, 0, call.dial_string))
            self.emit(ev.dial_event("DialEnd", ch, None, ("DialStatus", "NOANSWER")))
            self.emit(ev.hangup(ch, cause, HANGUP_TECH_CAUSE.get(cause)))
            self.emit(ev.device_state(f"PJSIP/{call.endpoint}", "NOT_INUSE"))
        self.finish(call, "hungup")

    def redirect_action(self, channel: str, context: str, exten: str) -> bool:
        found = self.find(channel)
        if found is None:
            return False
        from engine.sim.asterisk_flows import redirect_flow

        self.soon(redirect_flow, self, found[1], found[0], context, exten)
        return True

    def live(self) -> list[SimChannel]:
        return [ch for ch, _ in self.channels.values()]

    def hangup_all(self, cause: int = 16) -> None:
        for call in list(self.calls.values()):
            self._hangup_flow(call, cause)


def _cid(caller_id: str) -> tuple[str, str]:
    """``"Engine" <4930123456>`` -> (number, name)."""
    if "<" in caller_id and caller_id.endswith(">"):
        name, _, num = caller_id[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return caller_id.strip(), ""
