"""Outbound message menu (AGI script ``menu``): message, then 1 repeat / 2 meldkamer / 9 stop.

The message is played *inside* the AGI with ``STREAM FILE <msg> "129"``, never with Playback():
a digit pressed during Playback is lost to a later GET DATA (transcript 15c), while STREAM FILE
stops at an escape digit and returns it (``200 result=<ascii> endpos=<n>``).  The menu prompt
then waits with ``GET DATA <menu> <timeout> 1`` (``200 result=2`` / ``200 result= (timeout)``).
The dialplan queues the call when this sets ``MENU_CHOICE=2`` (transcript 15a).

The attempt id (ChannelId = CallAttempt.id) comes as ``agi_arg_1``; without it,
``agi_uniqueid``, which Asterisk sets to the Originate ChannelId (transcript 15).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import Action
from engine.ivr.channel import AgiChannel
from engine.ivr.inbound_calls import DossierAppend
from engine.ivr.menu_store import (
    MenuCall,
    load_menu_call,
    record_choice,
    record_heard,
    unsubscribe_participant,
)
from engine.ivr.notify import Notify, notify_progress
from engine.ivr.server import Route
from engine.ivr.sounds import IvrSounds
from engine.ivr.store_runner import StoreRunner

log = logging.getLogger(__name__)

SoundForAction = Callable[[Action], str]
ESCAPE_DIGITS = "129"
CHOICES = {"1": "repeat", "2": "meldkamer", "9": "unsubscribe"}


@dataclass(frozen=True)
class MenuConfig:
    sounds: IvrSounds = field(default_factory=IvrSounds)
    max_repeats: int = 3
    menu_timeout_ms: int = 5000
    #: Command timeout for playing the message (30-45 s typical) and the menu prompt.
    message_timeout_s: float = 180.0
    deadline_s: float = 900.0


def make_menu_route(
    factory: sessionmaker[Session],
    sound_for_action: SoundForAction,
    config: MenuConfig | None = None,
    *,
    append: DossierAppend = dossier.append,
    notify: Notify | None = None,
) -> Route:
    cfg = config or MenuConfig()
    db = StoreRunner(factory)

    async def handle(channel: AgiChannel) -> None:
        attempt_id = (channel.env.args or [channel.env.uniqueid])[0]
        call = await db.run(lambda s: load_menu_call(s, attempt_id, sound_for_action))
        if call is None:
            log.warning("menu: no call attempt %r; ending politely", attempt_id[:40])
            await channel.command("SET VARIABLE", "MENU_CHOICE", "none")
            return
        choice = await _run_menu(channel, call, cfg, db, append, notify)
        await channel.command("SET VARIABLE", "MENU_CHOICE", choice)

    # No fallback: an outbound call that fails here simply ends (the dialplan hangs up unless
    # MENU_CHOICE is 2); the dialer sees the Hangup and the dossier has what was heard.
    return Route(handler=handle, fallback=None, deadline=cfg.deadline_s)


async def _run_menu(
    channel: AgiChannel,
    call: MenuCall,
    cfg: MenuConfig,
    db: StoreRunner,
    append: DossierAppend,
    notify: Notify | None,
) -> str:
    """Returns the MENU_CHOICE for the dialplan: "2", "9" or "timeout"."""
    repeats = 0
    heard = False
    while True:
        digit, complete = await _play_message(channel, call.message, cfg)
        if (complete or digit) and not heard:
            heard = True
            await db.run(partial(record_heard, call=call, interrupted=not complete, append=append))
            await notify_progress(notify, call.action_id, {"kind": "reached", "channel": "voice"})
        if digit is None:
            digit = await _ask_menu(channel, cfg)
        while digit is not None and digit not in CHOICES and repeats < cfg.max_repeats:
            repeats += 1  # an unknown key: ask again rather than hang up on a fumble
            digit = await _ask_menu(channel, cfg)
        if digit == "1" and repeats < cfg.max_repeats:
            repeats += 1
            await _record(db, call, digit, "repeat", append)
            continue
        return await _finish(channel, call, digit, cfg, db, append)


async def _finish(
    channel: AgiChannel,
    call: MenuCall,
    digit: str | None,
    cfg: MenuConfig,
    db: StoreRunner,
    append: DossierAppend,
) -> str:
    if digit == "2":
        await _record(db, call, digit, "meldkamer", append)
        return "2"
    if digit == "9":
        await _record(db, call, digit, "unsubscribe", append)
        await db.run(lambda s: unsubscribe_participant(s, call, append=append))
        await channel.command("STREAM FILE", cfg.sounds.unsubscribed, "", timeout=60.0)
        return "9"
    await _record(db, call, digit, "timeout" if digit is None else "too_many_tries", append)
    if cfg.sounds.goodbye:
        await channel.command("STREAM FILE", cfg.sounds.goodbye, "", timeout=60.0)
    return "timeout"


async def _play_message(
    channel: AgiChannel, message: str, cfg: MenuConfig
) -> tuple[str | None, bool]:
    """(escape digit pressed or None, played to the end)."""
    reply = await channel.command(
        "STREAM FILE", message, ESCAPE_DIGITS, timeout=cfg.message_timeout_s
    )
    if reply.failed:
        # Missing file or hangup; CHANNEL STATUS raises AgiHangup (511) if the caller is gone.
        log.warning("menu: message %r did not play", message[-40:])
        await channel.command("CHANNEL STATUS")
        return None, False
    digit = reply.digit()
    return (digit, False) if digit else (None, reply.result == "0")


async def _ask_menu(channel: AgiChannel, cfg: MenuConfig) -> str | None:
    reply = await channel.command(
        "GET DATA", cfg.sounds.menu, cfg.menu_timeout_ms, 1, timeout=cfg.message_timeout_s
    )
    if reply.failed:
        await channel.command("CHANNEL STATUS")
        return None
    result = reply.result or ""
    return result[:1] if result[:1] in CHOICES or result[:1].isdigit() else None


async def _record(
    db: StoreRunner,
    call: MenuCall,
    digit: str | None,
    choice: str,
    append: DossierAppend,
) -> None:
    await db.run(lambda s: record_choice(s, call, digit, choice, append=append))
