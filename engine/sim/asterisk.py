"""Asterisk 22 AMI simulator: an asyncio TCP server that answers like the recorded transcripts.

Public interface
----------------
``AsteriskSim(config: SimConfig | None = None, host="127.0.0.1", port=0)``

* ``await sim.start() -> port``, ``await sim.stop()``; ``async with AsteriskSim(...) as sim``.
* Behaviour (see ``engine.sim.asterisk_model`` for outcomes/config): banner
  ``Asterisk Call Manager/11.0.0``; Login (bad secret: ``bad_login_delay_s`` then
  ``Authentication failed`` and close); ``Permission denied`` before login; unknown actions,
  missing Action, ``line too long`` (> 1024 bytes); Ping; Originate (always run as Async,
  the engine never sends a synchronous one; ChannelId -> Uniqueid; OtherChannelId for the
  ``;2`` half of Local channels) with the per-outcome event flows; Hangup (Cause sent, or
  0); Redirect (``to-queue`` or ``extra_contexts``; unknown channel -> Error; unknown
  target -> call lost, Cause 0);
  CoreShowChannels; Filter (``MatchCriteria: ...header(Event),method(regex)``: only matching
  events reach that connection); Logoff; Command/Reload (no-ops); UserEvent.
* Driving calls: ``sim.press(channel_id, "2")`` (DTMFBegin/DTMFEnd), ``sim.user_event(...)``,
  ``SimConfig.on_answer`` hook (``async (call) -> None``: the call's dialplan time),
  ``sim.live_calls()``, ``sim.find_call(channel_id)``.
* Fault injection: ``drop_connections()`` (abort every AMI socket), ``drop_at(delay_s)``,
  ``SimConfig.drop_after_originates`` (every N-th Originate: the socket is closed before its
  response; the call still proceeds, as when a response is lost), ``response_delay_s``,
  ``await shutdown(graceful=True)`` (refuse Login/Originate with "Asterisk is shutting down",
  wait for the calls, ``Event: Shutdown``, EOF; fact 11).
* Accounting: ``sim.originates`` (every Originate received, in order: ``OriginateRecord``
  with action_id, channel_id, channel, ``at`` (monotonic) and the planned outcome),
  ``sim.duplicates()``
  (ChannelIds received more than once), ``sim.stats`` (Counter of outcomes).

``python -m engine.sim.asterisk --port 15038`` runs it standalone (``--help``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from types import TracebackType

from engine.dialer.ami_protocol import AMI_MAX_LINE, AmiMessage, AmiParser
from engine.sim import asterisk_events as ev
from engine.sim.asterisk_calls import CallEngine, OriginateError
from engine.sim.asterisk_events import Pairs, frame
from engine.sim.asterisk_model import OriginateRecord, Outcome, SimCall, SimConfig

__all__ = ["AsteriskSim", "Outcome", "SimCall", "SimConfig", "main"]

log = logging.getLogger(__name__)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SHUTTING_DOWN = "Asterisk is shutting down"
RELOAD_EVENT = [
    ("Event", "Reload"),
    ("Privilege", "system,all"),
    ("Module", "All"),
    ("Status", "0"),
]


class _Session:
    """One AMI connection."""

    def __init__(
        self, sim: AsteriskSim, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.sim, self.reader, self.writer = sim, reader, writer
        self.logged_in = False
        self.filters: list[re.Pattern[str]] = []
        self._wants: dict[str, bool] = {}

    def wants(self, event: str) -> bool:
        if not self.filters:
            return True
        cached = self._wants.get(event)
        if cached is None:
            cached = self._wants[event] = any(f.search(event) for f in self.filters)
        return cached

    def send(self, pairs: Pairs) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(pairs))

    def abort(self) -> None:
        self.writer.transport.abort()

    async def run(self) -> None:
        self.writer.write(BANNER)
        parser = AmiParser()
        try:
            while data := await self.reader.read(65536):
                for msg in parser.feed(data):
                    if not await self.handle(msg):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            self.writer.close()

    async def handle(self, msg: AmiMessage) -> bool:
        """Answer one action; False closes the connection."""
        sim = self.sim
        aid = msg.action_id
        if sim.config.response_delay_s:
            await asyncio.sleep(sim.config.response_delay_s)
        if any(len(k) + 2 + len(v.encode()) > AMI_MAX_LINE for k, v in msg.headers):
            self.send(ev.response(aid, "Error", "Failed to parse message: line too long"))
            return True
        if msg.kind != "action":
            self.send(ev.response(aid, "Error", "Missing action in request"))
            return True
        name = (msg.name or "").lower()
        if sim.shutting_down and name in ("login", "originate"):
            self.send(ev.response(aid, "Error", SHUTTING_DOWN))
            return True
        if name == "login":
            return await self.login(msg)
        if not self.logged_in:
            self.send(ev.response(aid, "Error", "Permission denied"))
            return True
        handler = getattr(self, f"action_{name}", None)
        if handler is None:
            text = (
                f"Invalid/unknown command: {msg.name}. "
                "Use Action: ListCommands to show available commands."
            )
            self.send(ev.response(aid, "Error", text))
            return True
        try:
            result: bool = handler(msg, aid)
        except Exception:
            log.exception("simulator: %s failed", msg.name)
            self.send(ev.response(aid, "Error", "Internal simulator error"))
            return True
        return result

    async def login(self, msg: AmiMessage) -> bool:
        cfg = self.sim.config
        if msg.get("Username") != cfg.username or msg.get("Secret") != cfg.secret:
            await asyncio.sleep(cfg.bad_login_delay_s)
            self.send(ev.response(msg.action_id, "Error", "Authentication failed"))
            return False
        self.logged_in = True
        self.send(ev.response(msg.action_id, "Success", "Authentication accepted"))
        uptime = str(int(time.monotonic() - self.sim.started))
        self.send(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", uptime),
                ("LastReload", uptime),
                ("Status", "Fully Booted"),
            ]
        )
        return True

    # -- actions (name: action_<lowercase AMI action>) ---------------------------------------
    def action_ping(self, msg: AmiMessage, aid: str | None) -> bool:
        pong = [("Response", "Success")] + ([("ActionID", aid)] if aid else [])
        self.send([*pong, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
        return True

    def action_logoff(self, msg: AmiMessage, aid: str | None) -> bool:
        self.send(ev.response(aid, "Goodbye", "Thanks for all the fish."))
        return False

    def action_originate(self, msg: AmiMessage, aid: str | None) -> bool:
        sim = self.sim
        try:
            call = sim.engine.originate(msg)
        except OriginateError as exc:
            self.send(ev.response(aid, "Error", str(exc)))
            return True
        every = sim.config.drop_after_originates
        drop = every is not None and len(sim.engine.originates) % every == 0
        if not drop:
            self.send(ev.response(aid, "Success", "Originate successfully queued"))
        sim.engine.start(call)
        if drop:
            log.info("simulator: dropping the AMI connection after Originate %s", aid)
            self.abort()
            return False
        return True

    def action_hangup(self, msg: AmiMessage, aid: str | None) -> bool:
        channel = msg.get("Channel") or ""
        cause = int(msg.get("Cause") or 0)
        if self.sim.engine.hangup_action(channel, cause):
            self.send(ev.response(aid, "Success", "Channel Hungup"))
        else:
            self.send(ev.response(aid, "Error", "No such channel"))
        return True

    def action_redirect(self, msg: AmiMessage, aid: str | None) -> bool:
        channel = msg.get("Channel") or ""
        context, exten = msg.get("Context") or "", msg.get("Exten") or ""
        if self.sim.engine.redirect_action(channel, context, exten):
            self.send(ev.response(aid, "Success", "Redirect successful"))
        else:
            self.send(ev.response(aid, "Error", f"Channel does not exist: {channel}"))
        return True

    def action_coreshowchannels(self, msg: AmiMessage, aid: str | None) -> bool:
        aid = aid or ""
        self.send(ev.response(aid, "Success", "Channels will follow", ("EventList", "start")))
        now = time.monotonic()
        live = self.sim.engine.live()
        for ch in live:
            self.send(ev.core_show_channel(ch, aid, now - ch.created))
        self.send(
            [
                ("Event", "CoreShowChannelsComplete"),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", str(len(live))),
            ]
        )
        return True

    def action_filter(self, msg: AmiMessage, aid: str | None) -> bool:
        pattern = msg.get("Filter") or ""
        if "header(Event)" not in (msg.get("MatchCriteria") or "") and pattern.startswith("Event:"):
            pattern = pattern[len("Event:") :].strip()  # legacy "Filter: Event: X"
        try:
            self.filters.append(re.compile(pattern))
        except re.error:
            self.send(ev.response(aid, "Error", "Filter Not Added"))
            return True
        self._wants.clear()
        self.send(ev.response(aid, "Success", "Success"))
        return True

    def action_command(self, msg: AmiMessage, aid: str | None) -> bool:
        self.send(ev.response(aid, "Success", "Command output follows"))
        if (msg.get("Command") or "").strip().startswith("module reload"):
            self.sim.emit(RELOAD_EVENT)
        return True

    def action_reload(self, msg: AmiMessage, aid: str | None) -> bool:
        self.send(ev.response(aid, "Success", "Module Reloaded"))
        self.sim.emit(RELOAD_EVENT)  # 12: after "module reload" and Action: Reload alike
        return True

    def action_userevent(self, msg: AmiMessage, aid: str | None) -> bool:
        extra = [(k, v) for k, v in msg.headers if k.lower() not in ("action", "actionid")]
        self.sim.emit([("Event", "UserEvent"), ("Privilege", "user,all"), *extra])
        self.send(ev.response(aid, "Success", "Event Sent"))
        return True


class AsteriskSim:
    def __init__(
        self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimConfig()
        self.host, self.port = host, port
        self.engine = CallEngine(self.config, self.emit)
        self.engine.owner = self
        self.sessions: set[_Session] = set()
        self.shutting_down = False
        self.started = time.monotonic()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    async def __aenter__(self) -> AsteriskSim:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for timer_owner in list(self.engine.calls.values()):
            self.engine.finish(timer_owner, "stopped")
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.abort()
        if self._tasks:
            # Let every session end on its own (asyncio logs handler tasks cancelled at exit).
            await asyncio.wait(self._tasks, timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(session)
        self._tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self._tasks.discard(task)

    def emit(self, pairs: Pairs) -> None:
        """Broadcast one event to every logged-in connection whose filters accept it."""
        name = pairs[0][1]
        data: bytes | None = None
        for session in self.sessions:
            if session.logged_in and session.wants(name) and not session.writer.is_closing():
                if data is None:
                    data = frame(pairs)
                session.writer.write(data)

    # -- driving and inspecting --------------------------------------------------------------
    @property
    def originates(self) -> list[OriginateRecord]:
        return self.engine.originates

    @property
    def stats(self) -> Counter[str]:
        return self.engine.stats

    def duplicates(self) -> dict[str, int]:
        counts = Counter(r.channel_id for r in self.engine.originates)
        return {cid: n for cid, n in counts.items() if n > 1}

    def live_calls(self) -> list[SimCall]:
        return list(self.engine.calls.values())

    def find_call(self, channel_id: str) -> SimCall | None:
        return self.engine.calls.get(channel_id)

    def press(self, channel_id: str, digits: str) -> None:
        from engine.sim.asterisk_flows import press_digits

        call = self.engine.calls.get(channel_id)
        if call is not None:
            press_digits(self.engine, call, digits)

    def user_event(self, channel_id: str, name: str, **headers: str) -> None:
        call = self.engine.calls.get(channel_id)
        if call is not None and call.chan is not None:
            self.emit(ev.user_event(call.chan, name, *headers.items()))

    def drop_connections(self) -> None:
        for session in list(self.sessions):
            session.abort()

    def drop_at(self, delay_s: float) -> None:
        asyncio.get_running_loop().call_later(delay_s, self.drop_connections)

    async def shutdown(self, graceful: bool = True, timeout_s: float = 60.0) -> None:
        """``core stop gracefully`` (fact 11): refuse new work, wait, Shutdown event, EOF."""
        self.shutting_down = True
        deadline = time.monotonic() + timeout_s
        while graceful and self.engine.calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.engine.hangup_all()
        self.emit(
            [
                ("Event", "Shutdown"),
                ("Privilege", "system,all"),
                ("Shutdown", "Cleanly" if graceful else "Uncleanly"),
                ("Restart", "False"),
            ]
        )
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.writer.drain()
            session.writer.close()
        await self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m engine.sim.asterisk``: see ``engine.sim.asterisk_cli``."""
    from engine.sim.asterisk_cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
