"""Asyncio FastAGI server: one connection per call, a handler per ``agi_network_script``.

Fail-safe: a caller to the police is never dropped because of us.  When a handler raises or
overruns its deadline, the route's fallback runs (for the inbound ``callback`` script it sets
``BNET_ROUTE=queue`` and a default queue priority) and the socket is closed, which ends AGI()
with AGISTATUS=SUCCESS so the dialplan goes on to ``Queue(centralist)`` (transcript 08).
A hangup (``HANGUP`` line / ``511``, transcript 14) is a normal end, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from engine.ivr.agi_protocol import AgiProtocolError
from engine.ivr.channel import MAX_LINE_BYTES, AgiChannel, AgiClosed, AgiError, AgiHangup

log = logging.getLogger(__name__)

Handler = Callable[[AgiChannel], Awaitable[None]]
Fallback = Callable[[AgiChannel], Awaitable[None]]

#: What the fail-safe sets for the dialplan (see asterisk/ extensions template).
ROUTE_VARIABLE = "BNET_ROUTE"
FALLBACK_QUEUE_PRIO = "5"


@dataclass(frozen=True)
class Route:
    """How one ``agi_network_script`` is served."""

    handler: Handler
    #: Runs after a handler error or deadline overrun, on a still-open channel.
    fallback: Fallback | None = None
    #: Whole-handler limit in seconds (a stuck database must not hold the caller).
    deadline: float = 60.0


async def route_to_queue(channel: AgiChannel) -> None:
    """Fail-safe for inbound calls: make sure the dialplan continues to the queue."""
    for name, value in ((ROUTE_VARIABLE, "queue"), ("QUEUE_PRIO", FALLBACK_QUEUE_PRIO)):
        try:
            await channel.command("SET VARIABLE", name, value, timeout=2.0)
        except (AgiError, AgiProtocolError) as exc:
            # Even if this fails, closing the socket still lets the dialplan reach Queue().
            log.warning("fail-safe SET VARIABLE %s failed: %s", name, exc)
            return


@dataclass
class ServerStats:
    connections: int = 0
    completed: int = 0
    hangups: int = 0
    fallbacks: int = 0
    unknown_script: int = 0
    by_script: dict[str, int] = field(default_factory=dict)


class FastAgiServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        command_timeout: float = 10.0,
        env_timeout: float = 5.0,
    ) -> None:
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self.command_timeout = command_timeout
        self.env_timeout = env_timeout
        self.stats = ServerStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, limit=MAX_LINE_BYTES, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d (%s)", self.host, self.port, ", ".join(self.routes))

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def stop(self) -> None:
        """Stop accepting; let calls in progress finish their handler (bounded by deadlines)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.stats.connections += 1
        channel = AgiChannel(reader, writer, command_timeout=self.command_timeout)
        try:
            await self._serve_call(channel)
        finally:
            await channel.close()
            if task is not None:
                self._tasks.discard(task)

    async def _serve_call(self, channel: AgiChannel) -> None:
        try:
            env = await channel.read_environment(self.env_timeout)
        except (AgiError, AgiProtocolError, TimeoutError) as exc:
            # We cannot tell which script this was; closing lets the dialplan continue
            # (an inbound call still reaches the queue).
            log.warning("FastAGI: unusable environment, closing: %s", exc)
            self.stats.fallbacks += 1
            return
        script = env.script
        route = self.routes.get(script)
        if route is None:
            log.warning("FastAGI: no handler for script %r, closing", script[:40])
            self.stats.unknown_script += 1
            return
        self.stats.by_script[script] = self.stats.by_script.get(script, 0) + 1
        await self._run_route(route, channel, script)

    async def _run_route(self, route: Route, channel: AgiChannel, script: str) -> None:
        try:
            async with asyncio.timeout(route.deadline):
                await route.handler(channel)
            self.stats.completed += 1
            return
        except (AgiHangup, AgiClosed):
            self.stats.hangups += 1
            return
        except TimeoutError:
            log.error("FastAGI %s: handler overran its %.0fs deadline", script, route.deadline)
        except Exception:
            # Any handler bug must still leave the caller with a way to the centralist.
            log.exception("FastAGI %s: handler failed", script)
        self.stats.fallbacks += 1
        if route.fallback is not None and not channel.hungup:
            await route.fallback(channel)
