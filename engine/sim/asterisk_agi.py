"""FastAGI side of the simulator: an answered call runs AGI against the engine's IVR server.

``fastagi_on_answer(host, port, script="menu")`` returns a ``SimConfig.on_answer`` hook that
does what ``AGI(agi://host:port/script)`` in the dialplan does (transcript 15): it opens a TCP
connection, sends the ``agi_*`` environment (``agi_uniqueid`` = the Originate ChannelId,
``agi_channel``, ``agi_callerid``, ``agi_context`` ...), then answers each command the way
Asterisk 22 did.  The callee's keypresses are the call's ``Outcome.dtmf`` digits, consumed
by ``GET DATA`` / ``STREAM FILE`` (escape digits) / ``WAIT FOR DIGIT`` (with DTMFBegin/DTMFEnd
on AMI); with none, ``GET DATA`` times out (``200 result= (timeout)``).  ``SET VARIABLE``
shows up as VarSet, ``GET VARIABLE`` reads the Originate variables.  The call ends (normal
hangup, Cause 16) when the AGI server closes the socket or sends ``HANGUP``; a server that
cannot be reached ends it as AGISTATUS=FAILURE would.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Awaitable, Callable

from engine.sim import asterisk_events as ev
from engine.sim.asterisk_model import SimCall

__all__ = ["agi_environment", "fastagi_on_answer"]

log = logging.getLogger(__name__)


def agi_environment(call: SimCall, host: str, port: int, script: str) -> bytes:
    ch = call.chan
    name = ch.name if ch is not None else call.dial_string
    env = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", f"agi://{host}:{port}/{script}"),
        ("agi_channel", name),
        ("agi_language", "en"),
        ("agi_type", call.tech),
        ("agi_uniqueid", call.channel_id),
        ("agi_version", "22.10.1"),
        ("agi_callerid", call.cid_num or "unknown"),
        ("agi_calleridname", call.cid_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", call.context),
        ("agi_extension", call.exten),
        ("agi_priority", str(ch.priority if ch else 1)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "1"),
    ]
    return ("".join(f"{k}: {v}\n" for k, v in env) + "\n").encode()


class _AgiCall:
    """Answers one FastAGI conversation for one simulated call."""

    def __init__(self, call: SimCall, emit: Callable[[ev.Pairs], None]) -> None:
        self.call, self.emit = call, emit
        self.digits = list(call.outcome.dtmf)
        self.variables = dict(call.variables)

    def press(self, accept: str | None = None) -> str:
        """The next digit the callee presses, if ``accept`` allows it."""
        if not self.digits or (accept is not None and self.digits[0] not in accept):
            return ""
        digit = self.digits.pop(0)
        if self.call.chan is not None:
            self.emit(ev.dtmf(self.call.chan, digit, end=False))
            self.emit(ev.dtmf(self.call.chan, digit, end=True))
        return digit

    def answer(self, line: str) -> tuple[str, bool]:
        """(reply line, keep going) for one AGI command."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        cmd = " ".join(words[:2]).upper()
        args = words[2:]
        if cmd == "GET DATA":
            wanted = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1
            got = "".join(d for d in (self.press() for _ in range(wanted)) if d)
            return (f"200 result={got}" if got else "200 result= (timeout)"), True
        if cmd == "STREAM FILE":
            digit = self.press(args[1] if len(args) > 1 else "")
            return f"200 result={ord(digit) if digit else 0} endpos=16000", True
        if cmd == "WAIT FOR":
            digit = self.press()
            return f"200 result={ord(digit) if digit else 0}", True
        if cmd == "GET VARIABLE":
            value = self.variables.get(args[0]) if args else None
            return ("200 result=0" if value is None else f"200 result=1 ({value})"), True
        if cmd == "SET VARIABLE" and len(args) >= 2:
            self.variables[args[0]] = args[1]
            if self.call.chan is not None:
                self.emit(ev.varset(self.call.chan, args[0], args[1]))
            return "200 result=1", True
        if cmd == "CHANNEL STATUS":
            return "200 result=6", True
        if words and words[0].upper() == "HANGUP":
            return "200 result=1", False
        if words and words[0].upper() in ("ANSWER", "EXEC", "SAY", "VERBOSE", "NOOP", "SET"):
            return ("200 result=0" if words[0].upper() != "VERBOSE" else "200 result=1"), True
        return "510 Invalid or unknown command", True


async def run_fastagi(
    call: SimCall, emit: Callable[[ev.Pairs], None], host: str, port: int, script: str
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        log.warning("simulator: FastAGI %s:%s unreachable (%s)", host, port, exc)
        return
    agi = _AgiCall(call, emit)
    try:
        writer.write(agi_environment(call, host, port, script))
        while call.state in ("up", "queue"):
            line = await reader.readline()
            if not line:
                break
            reply, more = agi.answer(line.decode("utf-8", "replace").strip())
            writer.write(reply.encode() + b"\n")
            await writer.drain()
            if not more:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def fastagi_on_answer(
    host: str, port: int, script: str = "menu"
) -> Callable[[SimCall], Awaitable[None]]:
    """A ``SimConfig.on_answer`` hook that runs each answered call's AGI against a server.

    The hook needs the simulator's ``emit`` to report DTMF/VarSet on AMI; it finds it on the
    call (``SimCall.sim``, set by the simulator).
    """

    async def hook(call: SimCall) -> None:
        sim = call.sim
        emit: Callable[[ev.Pairs], None] = sim.emit if sim is not None else (lambda _: None)
        await run_fastagi(call, emit, host, port, script)

    return hook
