"""The dialer service: keeps every line busy with the right calls and records what happened.

One asyncio process (a node) with one AMI client per Asterisk server. The loop, in words: the
feeder pages queued attempts into the planner (``feeder``); the dispatcher claims the next ones
in the store a little ahead and, the moment a line is free (trunk pool: lines, CPS, breaker),
sets their Redis claim key and sends the Originate (``dispatch``); AMI events drive each
attempt's state machine (``calls``, ``attempt_fsm``); a finished call frees its line at once
(the next Originate follows in the same tick) and its result goes to the writer (store,
dossier, progress, retries: ``writer``, ``records``).

An Originate whose fate is unknown after a dropped connection is never sent again: on
reconnect the live channels (CoreShowChannels) say which calls are still up; the rest are
recorded as ``unknown`` (``reconcile``; ``claims`` and ``dispatch`` for exactly once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from engine.dialer.ami_client import (
    AmiActionError,
    AmiClient,
    AmiConfig,
    AmiConnectionLost,
    AmiTimeout,
)
from engine.dialer.ami_protocol import AmiMessage
from engine.dialer.attempt_fsm import TimerSettings
from engine.dialer.calls import Call, CallTable
from engine.dialer.claims import Claims
from engine.dialer.dispatch import Dispatcher
from engine.dialer.feeder import Feeder
from engine.dialer.outcomes import next_attempt, rules_from_settings
from engine.dialer.planner import Candidate, Planner
from engine.dialer.reconcile import Reconciler
from engine.dialer.records import Answered, AttemptResult, mask, release_rows
from engine.dialer.settings import DialerSettings
from engine.dialer.store_thread import StoreThread
from engine.dialer.trunks import BreakerSettings, TrunkPool
from engine.dialer.writer import ResultWriter
from engine.store.base import utcnow
from engine.store.db import transaction

__all__ = ["CANCEL_CHANNEL", "EVENT_FILTER", "WAKE_CHANNEL", "DialerService"]

log = logging.getLogger(__name__)

WAKE_CHANNEL = "bnet:dialer:wake"
CANCEL_CHANNEL = "bnet:dialer:cancel"
#: Events the dialer needs (fact 16: cuts AMI volume ~8x). Newchannel names the channel, so
#: a ringing call can be hung up on cancel.
EVENT_FILTER = (
    "^(OriginateResponse|Hangup|DialEnd|Newchannel|DTMFEnd|UserEvent|Shutdown|"
    "QueueCaller.*|Agent.*)$"
)
_QUEUE_EVENTS = ("queuecaller", "agent")


class DialerService:
    def __init__(
        self,
        settings: DialerSettings,
        factory: Any,
        redis: Any,
        *,
        clients: dict[str, AmiClient] | None = None,
        msg_file_for: Callable[[str], str] | None = None,
        aredis: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.factory, self.redis = settings, factory, redis
        self._own_aredis = aredis is None
        self.aredis = aredis if aredis is not None else _async_twin(redis)
        self.clock, self.msg_file_for = clock, msg_file_for
        self.node = settings.node_id
        self.pool = TrunkPool(
            settings.trunks,
            breaker=BreakerSettings(settings.breaker_failures, settings.breaker_cooldown_s),
            clock=clock,
        )
        self.planner = Planner(low_water=max(200, 2 * sum(t.max_channels for t in settings.trunks)))
        self.calls = CallTable()
        self.claims = Claims(factory, redis, self.node)
        self.store = StoreThread()
        self.writer = ResultWriter(
            factory, redis, on_retries=self._retries_written, store=self.store
        )
        self.feeder = Feeder(factory, self.planner, on_loaded=self.kick, store=self.store)
        self.rules = rules_from_settings(settings.retry)
        self.timers = TimerSettings(
            originate_ack_s=settings.originate_ack_timeout_s,
            originate_response_s=settings.originate_timeout_s + 15.0,
            max_call_s=settings.max_call_s,
        )
        self.clients = clients if clients is not None else self._make_clients()
        for client in self.clients.values():
            client.on_connected, client.on_disconnected = self._connected, self._disconnected
            client.subscribe(self._event_from(client.config.name))
        self.reconciler = Reconciler(self)
        self.servers_up: set[str] = set()
        self.stopping = False
        self.dispatcher = Dispatcher(self)
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self._in_queue: set[str] = set()  # Uniqueids waiting in the centralist queue

    def _make_clients(self) -> dict[str, AmiClient]:
        out = {}
        for server in self.settings.servers:
            cfg = AmiConfig(
                host=server.host,
                port=server.port,
                username=server.username,
                secret=server.secret,
                name=server.name,
                event_filters=[EVENT_FILTER],
            )
            out[server.name] = AmiClient(cfg)
        return out

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.claims.heartbeat()
        loops = [self._dispatch_loop(), self._timer_loop(), self.writer.run(), self.feeder.run()]
        loops.append(self.reconciler.housekeeping())
        if self.aredis is not None:
            loops.append(self._pubsub_loop())
        self._tasks = [asyncio.create_task(c) for c in loops]
        for client in self.clients.values():
            await client.start()

    async def stop(self) -> None:
        self.stopping = True
        ready, self.dispatcher.ready = list(self.dispatcher.ready), deque()
        if ready:  # claimed, never sent: back to the queue for whoever dials next
            await self.store.run(
                release_rows_tx, self.factory, [c.attempt_id for c in ready], self.node, "queued"
            )
        if self._bg:  # Originates being sent: let them get their reply (Asterisk acks in ms)
            await asyncio.wait(list(self._bg), timeout=2.0)
        for client in self.clients.values():
            await client.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.writer.drained()
        self.claims.leave()
        self.store.close()
        if self._own_aredis:
            await self.aredis.aclose()

    def kick(self) -> None:
        self._kick.set()

    # -- filling lines ------------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while True:
            pending = self.planner.queued() or self.dispatcher.ready
            wait = max(self.pool.next_token_in(), 0.002) if pending else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=wait)
            self._kick.clear()
            self._fill_lines()

    def _fill_lines(self) -> None:
        self.dispatcher.fill_lines()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    @property
    def originates(self) -> int:
        return self.dispatcher.originates

    def release_claimed(self, cands: list[Candidate], state: str) -> None:
        """Claimed attempts that will not be sent (cancel, stop) go back in the store."""
        if cands:
            ids = [c.attempt_id for c in cands]
            self.spawn(self.store.run(release_rows_tx, self.factory, ids, self.node, state))

    # -- events and effects -------------------------------------------------------------------
    def _event_from(self, server: str) -> Callable[[AmiMessage], None]:
        def on_event(msg: AmiMessage) -> None:
            name = (msg.event or "").lower()
            if name == "shutdown":
                log.warning("dialer: Asterisk %s is shutting down", server)
                self.servers_up.discard(server)
                return
            self._forward_queue_event(name, msg)
            routed = self.calls.route(msg)
            if routed is not None:
                call, signal = routed
                self.apply(call, signal.kind, signal.value)
                if call.hangup_wanted and call.channel:
                    self._hangup(call)

        return on_event

    def _forward_queue_event(self, name: str, msg: AmiMessage) -> None:
        """Queue events (and the Hangup of a queued caller) go to the IVR's bookkeeping."""
        uniqueid = msg.get("Uniqueid") or ""
        if name.startswith(_QUEUE_EVENTS):
            if name == "queuecallerjoin":
                self._in_queue.add(uniqueid)
            self.writer.queue_event(msg.as_dict())
        elif name == "hangup" and uniqueid in self._in_queue:
            self._in_queue.discard(uniqueid)
            self.writer.queue_event(msg.as_dict())

    def apply(self, call: Call, kind: str, value: str = "") -> None:
        now = self.clock()
        effects = call.machine.step(kind, value, now)
        self.calls.schedule(call)
        for effect in effects:
            if effect == "mark_answered":
                call.answered_mono, call.answered_at = now, utcnow()
                self.writer.answered(
                    Answered(call.attempt_id, call.cand.action_id, call.answered_at)
                )
            elif effect == "hangup_call":
                self._hangup(call)
            elif effect == "reconcile" and not self.stopping:
                self.reconciler.needed(call.server)
            elif effect == "finish":
                self._finish(call, now)

    def _hangup(self, call: Call) -> None:
        if call.channel is None:
            call.hangup_wanted = True  # Newchannel will tell us its name
            return
        call.hangup_wanted = False
        client = self.clients[call.server]
        self.spawn(_quiet(client.hangup(call.channel, cause=16)))

    def _finish(self, call: Call, now: float) -> None:
        outcome = call.machine.outcome or "failed"
        hold = now - call.answered_mono if call.answered_mono is not None else 0.0
        self.pool.release(call.lease, outcome, hold)
        self.calls.remove(call)
        cancelled = call.cand.action_id in self.feeder.cancelled
        nxt = (
            None
            if cancelled
            else next_attempt(outcome, call.cand.attempt_no, call.lease.trunk, self.rules)
        )
        facts = call.machine.facts
        self.writer.result(
            AttemptResult(
                call.attempt_id,
                call.cand.action_id,
                call.cand.e164,
                outcome,
                utcnow(),
                trunk=call.lease.trunk,
                cause=facts.cause,
                dial_status=facts.dial_status,
                digits="".join(facts.digits),
                amd=facts.amd,
                answered_at=call.answered_at,
                menu_choice=facts.menu_choice,
                retry=nxt,
            )
        )
        log.info("dialer: %s %s -> %s", call.attempt_id[:8], mask(call.cand.e164), outcome)
        self._fill_lines()  # the line is free now: refill it in the same tick

    def _retries_written(self, action_ids: set[str]) -> None:
        for action_id in action_ids:
            self.feeder.wake(action_id)

    async def _timer_loop(self) -> None:
        while True:
            nxt = self.calls.next_deadline()
            delay = 0.05 if nxt is None else min(max(nxt - self.clock(), 0.0), 0.05)
            await asyncio.sleep(delay)
            for call, name in self.calls.due(self.clock()):
                self.apply(call, "timer:" + name)

    # -- AMI connection state -----------------------------------------------------------------
    def _connected(self, client: AmiClient) -> None:
        self.reconciler.needed(client.config.name)

    def _disconnected(self, client: AmiClient, reason: str) -> None:
        server = client.config.name
        self.servers_up.discard(server)
        log.warning("dialer: AMI %s lost (%s)", server, reason)
        for call in self.calls.of_server(server):
            self.apply(call, "conn_lost")

    # -- cancel / wake ------------------------------------------------------------------------
    def cancel(self, action_id: str, *, hangup_answered: bool = False) -> int:
        """Stop an action's calls: queued ones at once, ringing ones hung up (Cause 16)."""
        dropped = self.feeder.cancel(action_id)
        self.release_claimed(self.dispatcher.drop_action(action_id), "cancelled")
        for call in self.calls.of_action(action_id):
            self.apply(call, "cancel")
            if hangup_answered:
                self.apply(call, "cancel_answered")
        return len(dropped)

    async def _pubsub_loop(self) -> None:
        pubsub = self.aredis.pubsub()
        await pubsub.subscribe(WAKE_CHANNEL, CANCEL_CHANNEL)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                channel = _text(message["channel"])
                data = _text(message["data"])
                if channel == WAKE_CHANNEL:
                    self.feeder.wake(data.strip() or None)
                elif channel == CANCEL_CHANNEL:
                    self._on_cancel_message(data)
        finally:
            await pubsub.aclose()

    def _on_cancel_message(self, data: str) -> None:
        try:
            body = json.loads(data)
            action_id = str(body["action_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("dialer: ignored a malformed cancel message")
            return
        self.cancel(action_id, hangup_answered=bool(body.get("hangup_answered", False)))


async def _quiet(coro: Any) -> None:
    """Hang-ups of channels that are already gone answer with an error: that is fine."""
    with contextlib.suppress(AmiActionError, AmiConnectionLost, AmiTimeout):
        await coro


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _async_twin(redis_client: Any) -> Any:
    """An asyncio Redis client on the same server as the given (sync) one."""
    kwargs = dict(redis_client.connection_pool.connection_kwargs)
    keep = ("host", "port", "db", "username", "password", "socket_timeout")
    return aioredis.Redis(**{k: v for k, v in kwargs.items() if k in keep})


def release_rows_tx(factory: Any, ids: list[str], node: str, state: str) -> None:
    with transaction(factory) as session:
        release_rows(session, ids, node, state)
