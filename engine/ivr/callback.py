"""Inbound callback IVR (AGI script ``callback``): identify, link to the action, queue first.

The dialplan runs ``AGI(agi://.../callback,${EXTEN})`` and then ``Queue(centralist)``
unconditionally (transcript 08), so every path here ends in the queue; this handler only decides
*how* the caller arrives there: QUEUE_PRIO (Asterisk's queue priority variable), the action id,
and a display name the centralist sees.  Nothing here may keep a caller from the queue: the
route variable is set before any lookup, and the server's fallback covers every error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.ivr.caller_id import caller_e164
from engine.ivr.channel import AgiChannel, AgiClosed, AgiHangup
from engine.ivr.inbound_calls import (
    DEFAULT_WINDOW,
    DossierAppend,
    InboundDecision,
    mark_hung_up,
    start_inbound_call,
)
from engine.ivr.notify import Notify, notify_progress
from engine.ivr.server import ROUTE_VARIABLE, Route, route_to_queue
from engine.ivr.sounds import IvrSounds
from engine.ivr.store_runner import StoreRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackConfig:
    sounds: IvrSounds = field(default_factory=IvrSounds)
    window: timedelta = DEFAULT_WINDOW
    region: str = "NL"
    #: How long the "no active action" prompt waits for a key before queueing anyway.
    no_action_wait_ms: int = 1000
    deadline_s: float = 60.0


def make_callback_route(
    factory: sessionmaker[Session],
    config: CallbackConfig | None = None,
    *,
    append: DossierAppend = dossier.append,
    notify: Notify | None = None,
) -> Route:
    cfg = config or CallbackConfig()
    store = StoreRunner(factory)

    def start(uniqueid: str, caller: str | None) -> Callable[[Session], InboundDecision]:
        return lambda session: start_inbound_call(
            session, uniqueid=uniqueid, caller=caller, window=cfg.window, append=append
        )

    async def handle(channel: AgiChannel) -> None:
        # First: whatever happens next, the dialplan must continue to the queue.
        await channel.command("SET VARIABLE", ROUTE_VARIABLE, "queue")
        uniqueid = channel.env.uniqueid
        caller = caller_e164(channel.env.callerid, cfg.region)
        decision = await store.run(start(uniqueid, caller))
        if decision.action_id is not None:
            payload = {"kind": "inbound_call", "id": decision.inbound_call_id}
            await notify_progress(notify, decision.action_id, payload)
        try:
            await _tell_dialplan(channel, decision)
            if decision.action_id is None:
                await _no_active_action(channel, cfg)
        except (AgiHangup, AgiClosed):
            await store.run(lambda session: mark_hung_up(session, uniqueid))
            raise

    return Route(handler=handle, fallback=route_to_queue, deadline=cfg.deadline_s)


async def _tell_dialplan(channel: AgiChannel, decision: InboundDecision) -> None:
    await channel.command("SET VARIABLE", "QUEUE_PRIO", str(decision.queue_prio))
    await channel.command("SET VARIABLE", "BNET_ACTION_ID", decision.action_id or "")
    await channel.command("SET VARIABLE", "BNET_INBOUND_ID", str(decision.inbound_call_id))
    await channel.command("SET VARIABLE", "CALLERID(name)", decision.display_name)


async def _no_active_action(channel: AgiChannel, cfg: CallbackConfig) -> None:
    """Tell the caller there is no active action (112 for emergencies), then queue anyway.

    GET DATA keeps the prompt interruptible: any key, or the short wait, goes on to the queue.
    """
    reply = await channel.command(
        "GET DATA", cfg.sounds.no_active_action, cfg.no_action_wait_ms, 1, timeout=120.0
    )
    if reply.failed:
        # result=-1 is a hangup or a missing file (transcript 14); CHANNEL STATUS answers 511
        # (AgiHangup) only on a dead channel, so a missing prompt still goes on to the queue.
        await channel.command("CHANNEL STATUS")
