"""Asyncio AMI client for one Asterisk server: login, actions, event routing, watchdog, reconnect.

Why not panoramisk (DESIGN's choice)
------------------------------------
panoramisk 1.4 keeps every action that had no answer when the socket dropped in
``Manager.awaiting_actions`` and sends it again after the next login (``FullyBooted``), so an
Originate whose reply was lost is dialled twice: a duplicate call to a citizen
(``tests/integration/test_ami_client.py::test_panoramisk_replays_originate_after_reconnect``).
Its only switch, ``forgetable_actions``, drops the action but leaves the caller's future pending
forever; its parser splits on CRLF CRLF only (LF framing hangs), drops non-UTF-8 octets, and it
writes values unescaped (transcript 11: CR/LF injection).  This module is a small client on
asyncio streams over the pure ``engine.dialer.ami_protocol``: on disconnect every pending action
fails with ``AmiConnectionLost`` and nothing is ever resent; deciding what to do with an
Originate whose fate is unknown is the dialer's job (reconcile with CoreShowChannels).

Public interface
----------------
``AmiClient(config: AmiConfig, *, on_connected=None, on_disconnected=None)`` one per server
(bookkeeping in ``engine.dialer.ami_router``; errors are re-exported here).

* ``await client.start()`` runs the supervisor loop (connect, login, filters, watchdog,
  reconnect with exponential backoff + jitter); ``await client.stop()``; ``client.state`` is
  ``"stopped" | "connecting" | "connected" | "backoff" | "disconnected"``;
  ``await client.wait_connected(t)``.
  ``on_connected(client)`` / ``on_disconnected(client, reason)`` are plain callbacks.
* ``await client.connect()`` one connection + login without the supervisor (tests, CLI);
  bad credentials raise ``AmiLoginError`` (Asterisk answers after ~1 s, then closes).
* ``await client.originate(channel, channel_id=..., context=, exten=, priority=`` or
  ``application=, data=``, ``variables={...}, caller_id=, timeout_ms=, other_channel_id=,
  action_id=, on_event=)`` -> ``OriginateAck``: always ``Async: true`` with your ChannelId;
  returns on the immediate ``Success``, raises ``AmiActionError`` on ``Error``.  The outcome
  comes later as events (``OriginateResponse``, ``DialEnd``, ``Hangup`` ...): pass ``on_event``
  (registered before the bytes are written, so nothing is missed; close
  ``ack.subscription`` after the Hangup) or ``subscribe()`` first.
* ``hangup(channel, cause=16)``, ``redirect(channel, context, exten, priority=1)``,
  ``core_show_channels() -> list[AmiMessage]``, ``ping()``, ``add_filter(regex)``,
  ``send_action(name, headers, list_action=False, timeout=None)``.
* ``subscribe(callback, *, channel_id=None, action_id=None) -> Subscription`` routes events:
  all events, or those whose ``Uniqueid``/``DestUniqueid``/``Linkedid`` is ``channel_id``, or
  whose ``ActionID`` is ``action_id``; ``Subscription.close()``.  ``event_queue()`` gives an
  ``asyncio.Queue`` fed with every event.
* Errors: ``AmiConnectionLost`` (also raised at once when not connected: actions are never
  queued), ``AmiActionError`` (``.response``), ``AmiLoginError``, ``AmiTimeout``; injection
  attempts raise ``engine.dialer.ami_protocol.AmiInjectionError`` before anything is written.
  After ``AmiConnectionLost`` or ``AmiTimeout`` from ``originate()`` the call's fate is
  unknown (Asterisk may have dialled it): find it with ``core_show_channels()`` / its events,
  never by sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.dialer.ami_protocol import AmiMessage, AmiParser, Headers, encode_action
from engine.dialer.ami_router import (
    AmiActionError,
    AmiConnectionLost,
    AmiLoginError,
    AmiTimeout,
    EventCallback,
    EventRouter,
    PendingActions,
    Subscription,
    mask_numbers,
)

__all__ = [
    "AmiActionError",
    "AmiClient",
    "AmiConfig",
    "AmiConnectionLost",
    "AmiLoginError",
    "AmiTimeout",
    "OriginateAck",
    "Subscription",
    "mask_numbers",
]

log = logging.getLogger(__name__)


@dataclass
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 15038
    username: str = "engine"
    secret: str = "engine-secret"
    name: str = "local"
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 5.0
    pong_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.25
    #: Regexes over the Event name applied with ``Action: Filter`` after every login.
    event_filters: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OriginateAck:
    action_id: str
    channel_id: str
    #: The ``on_event`` subscription, if any: close it once the call is over.
    subscription: Subscription | None = None


class AmiClient:
    def __init__(
        self,
        config: AmiConfig,
        *,
        on_connected: Callable[[AmiClient], object] | None = None,
        on_disconnected: Callable[[AmiClient, str], object] | None = None,
    ) -> None:
        self.config = config
        self.on_connected, self.on_disconnected = on_connected, on_disconnected
        self.state = "stopped"
        self.banner: str | None = None
        self.reconnects = 0
        self._prefix = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)
        self._pending = PendingActions()
        self._router = EventRouter(config.name)
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed: asyncio.Event = asyncio.Event()
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._banner_seen: asyncio.Future[str] | None = None

    # -- supervisor ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(
                self._supervise(), name=f"ami-{self.config.name}"
            )

    async def stop(self) -> None:
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop("client stopped")
        self.state = "stopped"

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def backoff_delay(self, attempt: int) -> float:
        base = min(self.config.backoff_max, self.config.backoff_initial * 2.0 ** min(attempt, 30))
        return float(base * (1 + random.uniform(-1, 1) * self.config.backoff_jitter))

    async def _supervise(self) -> None:
        attempt = 0
        while True:
            self.state = "connecting"
            try:
                await self.connect()
            except Exception as exc:  # refused, unreachable, bad login, bad config: retry
                delay = self.backoff_delay(attempt)
                attempt += 1
                log.warning(
                    "AMI %s: connect failed (%s); retry in %.2fs",
                    self.config.name,
                    mask_numbers(str(exc)) or type(exc).__name__,
                    delay,
                )
                self.state = "backoff"
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._router.notify(self.on_connected, self)
            await self._closed.wait()
            self.reconnects += 1
            self.state = "backoff"
            await asyncio.sleep(self.backoff_delay(0))

    # -- one connection ---------------------------------------------------------------------
    async def connect(self) -> None:
        """Open one connection, read the banner, log in, apply the event filters."""
        await self._drop("reconnecting")
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout
        )
        self._writer, self._closed = writer, asyncio.Event()
        loop = asyncio.get_running_loop()
        self._banner_seen = loop.create_future()
        self._tasks = [asyncio.create_task(self._read_loop(reader, self._closed))]
        try:
            self.banner = await asyncio.wait_for(self._banner_seen, cfg.connect_timeout)
            await self._login()
            for regex in cfg.event_filters:
                await self.add_filter(regex)
        except BaseException:
            await self._drop("login failed")
            raise
        self._tasks.append(asyncio.create_task(self._watchdog(self._closed)))
        self.state = "connected"
        self._connected.set()
        log.info("AMI %s: connected to %s:%s", cfg.name, cfg.host, cfg.port)

    async def _login(self) -> None:
        headers = {"Username": self.config.username, "Secret": self.config.secret}
        try:
            await self.send_action("Login", headers, _require_connected=False)
        except AmiActionError as exc:
            raise AmiLoginError("Login", exc.response) from None

    async def _drop(self, reason: str) -> None:
        writer, self._writer = self._writer, None
        was_connected = self._connected.is_set()
        self._connected.clear()
        self.state = "disconnected"
        self._closed.set()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._tasks = []
        self._pending.fail_all(reason)
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
        if was_connected:
            level = logging.INFO if reason == "client stopped" else logging.WARNING
            log.log(level, "AMI %s: disconnected (%s)", self.config.name, reason)
            self._router.notify(self.on_disconnected, self, reason)

    async def _read_loop(self, reader: asyncio.StreamReader, closed: asyncio.Event) -> None:
        parser = AmiParser()
        reason = "connection closed by Asterisk"
        try:
            while data := await reader.read(65536):
                for msg in parser.feed(data):
                    self._dispatch(msg)
                if parser.errors:
                    log.warning("AMI %s: malformed input: %s", self.config.name, parser.errors)
                    parser.errors.clear()
        except OSError as exc:
            reason = f"read error: {exc}"
        if not closed.is_set():
            self._router.spawn(self._drop(reason))

    async def _watchdog(self, closed: asyncio.Event) -> None:
        while not closed.is_set():
            await asyncio.sleep(self.config.ping_interval)
            try:
                await self.send_action("Ping", timeout=self.config.pong_timeout)
            except AmiTimeout:
                log.error(
                    "AMI %s: no Pong in %.1fs, connection considered dead",
                    self.config.name,
                    self.config.pong_timeout,
                )
                self._router.spawn(self._drop("no pong"))
                return
            except (AmiConnectionLost, AmiActionError):
                return

    # -- incoming -----------------------------------------------------------------------------
    def _dispatch(self, msg: AmiMessage) -> None:
        kind = msg.kind
        if kind == "banner":
            if self._banner_seen is not None and not self._banner_seen.done():
                self._banner_seen.set_result(msg.body[0])
        elif kind == "response":
            if not self._pending.on_response(msg):
                log.warning("AMI %s: response for unknown ActionID ignored", self.config.name)
        elif kind == "event":
            if self._pending.is_list_item(msg):
                self._pending.on_list_item(msg)
            else:
                self._router.route(msg)
        else:
            log.warning("AMI %s: ignored %s message (no Event/Response)", self.config.name, kind)

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe(
        self,
        callback: EventCallback,
        *,
        channel_id: str | None = None,
        action_id: str | None = None,
    ) -> Subscription:
        return self._router.subscribe(callback, channel_id=channel_id, action_id=action_id)

    def event_queue(self, maxsize: int = 0) -> tuple[Subscription, asyncio.Queue[AmiMessage]]:
        queue: asyncio.Queue[AmiMessage] = asyncio.Queue(maxsize)
        return self.subscribe(queue.put_nowait), queue

    # -- actions ------------------------------------------------------------------------------
    def next_action_id(self, name: str) -> str:
        return f"{self._prefix}-{name.lower()}-{next(self._ids)}"

    async def send_action(
        self,
        name: str,
        headers: Headers = (),
        *,
        action_id: str | None = None,
        list_action: bool = False,
        timeout: float | None = None,
        _require_connected: bool = True,
    ) -> list[AmiMessage]:
        """Send one action; return its response (plus list events for ``list_action``)."""
        action_id = action_id or self.next_action_id(name)
        data = encode_action(name, headers, action_id=action_id)  # refuses injection first
        writer = self._writer
        if writer is None or (_require_connected and not self._connected.is_set()):
            raise AmiConnectionLost(f"{name}: not connected to AMI {self.config.name}")
        future = self._pending.add(action_id, name, list_action)
        writer.write(data)
        try:
            await writer.drain()
            return await asyncio.wait_for(
                asyncio.shield(future), timeout or self.config.action_timeout
            )
        except TimeoutError:
            self._pending.forget(action_id)
            raise AmiTimeout(f"{name}: no answer from AMI {self.config.name}") from None
        except (ConnectionError, OSError) as exc:
            self._pending.forget(action_id)
            if isinstance(exc, AmiConnectionLost):
                raise
            raise AmiConnectionLost(f"{name}: {exc}") from exc

    async def originate(
        self,
        channel: str,
        *,
        channel_id: str | None = None,
        context: str | None = None,
        exten: str = "s",
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
        timeout_ms: int = 30000,
        other_channel_id: str | None = None,
        action_id: str | None = None,
        on_event: EventCallback | None = None,
    ) -> OriginateAck:
        channel_id = channel_id or str(uuid.uuid4())
        action_id = action_id or self.next_action_id("originate")
        pairs: list[tuple[str, str]] = [("Channel", channel)]
        if application is not None:
            pairs += [("Application", application)] + ([("Data", data)] if data else [])
        elif context is not None:
            pairs += [("Context", context), ("Exten", exten), ("Priority", str(priority))]
        else:
            raise ValueError("originate needs a context or an application")
        if caller_id:
            pairs.append(("CallerID", caller_id))
        pairs += [("Timeout", str(timeout_ms)), ("Async", "true"), ("ChannelId", channel_id)]
        if other_channel_id:
            pairs.append(("OtherChannelId", other_channel_id))
        pairs += [("Variable", f"{k}={v}") for k, v in (variables or {}).items()]
        sub = self.subscribe(on_event, channel_id=channel_id) if on_event else None
        try:
            await self.send_action("Originate", pairs, action_id=action_id)
        except BaseException:
            if sub is not None:
                sub.close()
            raise
        return OriginateAck(action_id, channel_id, sub)

    async def hangup(self, channel: str, cause: int = 16) -> AmiMessage:
        # Without a Cause Asterisk reports 0 "Unknown" (transcript 19): always send one.
        return (await self.send_action("Hangup", {"Channel": channel, "Cause": str(cause)}))[0]

    async def redirect(
        self, channel: str, context: str, exten: str, priority: int = 1
    ) -> AmiMessage:
        headers = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
        }
        return (await self.send_action("Redirect", headers))[0]

    async def core_show_channels(self) -> list[AmiMessage]:
        items = await self.send_action("CoreShowChannels", list_action=True)
        return [m for m in items if m.event == "CoreShowChannel"]

    async def ping(self) -> AmiMessage:
        return (await self.send_action("Ping"))[0]

    async def add_filter(self, regex: str) -> AmiMessage:
        headers = {
            "Operation": "Add",
            "MatchCriteria": "action(include),header(Event),method(regex)",
            "Filter": regex,
        }
        return (await self.send_action("Filter", headers, _require_connected=False))[0]
