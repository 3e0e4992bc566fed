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
import time
from collections import Counter
from types import TracebackType

from engine.sim import asterisk_events as ev
from engine.sim.asterisk_calls import CallEngine
from engine.sim.asterisk_events import Pairs, frame
from engine.sim.asterisk_model import OriginateRecord, Outcome, SimCall, SimConfig
from engine.sim.asterisk_session import Session

__all__ = ["AsteriskSim", "Outcome", "SimCall", "SimConfig", "main"]

log = logging.getLogger(__name__)


class AsteriskSim:
    def __init__(
        self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimConfig()
        self.host, self.port = host, port
        self.engine = CallEngine(self.config, self.emit)
        self.engine.owner = self
        self.sessions: set[Session] = set()
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
        session = Session(self, reader, writer)
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
