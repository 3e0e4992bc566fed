"""Outbound message menu (AGI script ``menu``): message, then 1 repeat / 2 meldkamer / 9 stop.

The message is played *inside* the AGI with ``STREAM FILE <msg> "129"``, never with Playback():
a digit pressed during Playback is lost to a later GET DATA (transcript 15c), while STREAM FILE
stops at an escape digit and returns it (``200 result=<ascii> endpos=<n>``).  The menu prompt
then waits with ``GET DATA <menu> <timeout> 1`` (``200 result=2`` / ``200 result= (timeout)``).
The dialplan queues the call when this sets ``MENU_CHOICE=2`` (transcript 15a).

The attempt id (ChannelId = CallAttempt.id) comes as ``agi_arg_1``; without it,
``agi_uniqueid``, which Asterisk sets to the Originate ChannelId (transcript 15).  The message
is the channel's ``MSG_FILE`` (set by the dialer per attempt) or the action's rendered alert.
The dialplan around this AGI (asterisk/extensions.conf.tmpl) raises the ``BnetMessage`` /
``BnetMenu`` UserEvents the dialer follows; a hangup inside the AGI stops the dialplan, so
"no BnetMenu" means "hung up during the message or menu".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import Action
from engine.ivr.agi_protocol import AgiReply
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
#: A sound name or absolute path without extension; nothing that could climb out of it.
_SAFE_SOUND = re.compile(r"/?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


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
        msg_file = await _channel_message(channel)
        call = await db.run(lambda s: load_menu_call(s, attempt_id, sound_for_action, msg_file))
        if call is None:
            log.warning("menu: no call attempt %r; ending politely", attempt_id[:40])
            await channel.command("SET VARIABLE", "MENU_CHOICE", "none")
            return
        menu = _MenuCall(channel, call, cfg, db, append, notify)
        choice = await menu.run()
        await channel.command("SET VARIABLE", "MENU_CHOICE", choice)

    # No fallback: an outbound call that fails here simply ends (the dialplan hangs up unless
    # MENU_CHOICE is 2); the dialer sees the Hangup and the dossier has what was heard.
    return Route(handler=handle, fallback=None, deadline=cfg.deadline_s)


async def _channel_message(channel: AgiChannel) -> str | None:
    reply = await channel.command("GET VARIABLE", "MSG_FILE")
    value = reply.data if reply.ok else None
    if value and _SAFE_SOUND.fullmatch(value) and ".." not in value:
        return value
    return None


class _MenuCall:
    """One participant in the menu: what they heard and pressed."""

    def __init__(
        self,
        channel: AgiChannel,
        call: MenuCall,
        cfg: MenuConfig,
        db: StoreRunner,
        append: DossierAppend,
        notify: Notify | None,
    ) -> None:
        self.channel, self.call, self.cfg = channel, call, cfg
        self.db, self.append, self.notify = db, append, notify
        self.repeats = 0
        self.heard = False

    async def run(self) -> str:
        """Returns the MENU_CHOICE for the dialplan: "2", "9" or "timeout"."""
        while True:
            digit = await self.play_message()
            if digit is None:
                digit = await self.ask_menu()
            while (
                digit is not None and digit not in CHOICES and self.repeats < self.cfg.max_repeats
            ):
                self.repeats += 1  # an unknown key: ask again rather than hang up on a fumble
                digit = await self.ask_menu()
            if digit == "1" and self.repeats < self.cfg.max_repeats:
                self.repeats += 1
                await self.record(digit, "repeat")
                continue
            return await self.finish(digit)

    async def finish(self, digit: str | None) -> str:
        if digit == "2":
            await self.record(digit, "meldkamer")
            return "2"
        if digit == "9":
            await self.record(digit, "unsubscribe")
            await self.db.run(lambda s: unsubscribe_participant(s, self.call, append=self.append))
            await self.play(self.cfg.sounds.unsubscribed)
            return "9"
        await self.record(digit, "timeout" if digit is None else "too_many_tries")
        if self.cfg.sounds.goodbye:
            await self.play(self.cfg.sounds.goodbye)
        return "timeout"

    async def play_message(self) -> str | None:
        """The escape digit pressed during the message, or None (played out or failed)."""
        reply = await self.stream_message(self.call.message)
        if reply.failed and self.call.fallback_message:
            reply = await self.stream_message(self.call.fallback_message)
        if reply.failed:
            return None
        digit = reply.digit()
        if digit or reply.result == "0":
            await self.mark_heard(interrupted=digit is not None)
        return digit

    async def stream_message(self, sound: str) -> AgiReply:
        reply = await self.channel.command(
            "STREAM FILE", sound, ESCAPE_DIGITS, timeout=self.cfg.message_timeout_s
        )
        if reply.failed:
            # Missing file or hangup; CHANNEL STATUS raises AgiHangup (511) if the caller left.
            log.warning("menu: message %r did not play", sound[-40:])
            await self.channel.command("CHANNEL STATUS")
        return reply

    async def ask_menu(self) -> str | None:
        reply = await self.channel.command(
            "GET DATA",
            self.cfg.sounds.menu,
            self.cfg.menu_timeout_ms,
            1,
            timeout=self.cfg.message_timeout_s,
        )
        if reply.failed:
            await self.channel.command("CHANNEL STATUS")
            return None
        first = (reply.result or "")[:1]
        return first if first and first in "0123456789*#" else None

    async def mark_heard(self, *, interrupted: bool) -> None:
        if self.heard:
            return
        self.heard = True
        await self.db.run(
            partial(record_heard, call=self.call, interrupted=interrupted, append=self.append)
        )
        payload = {"kind": "reached", "channel": "voice"}
        await notify_progress(self.notify, self.call.action_id, payload)

    async def record(self, digit: str | None, choice: str) -> None:
        await self.db.run(lambda s: record_choice(s, self.call, digit, choice, append=self.append))

    async def play(self, sound: str) -> None:
        await self.channel.command("STREAM FILE", sound, "", timeout=60.0)
