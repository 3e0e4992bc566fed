"""One AMI connection of the Asterisk simulator: login, action handlers, filters.

Every answer text is the one Asterisk 22 gave in the transcripts (11: errors and
``line too long``; 12: shutdown and reload; 13: CoreShowChannels and Hangup by regex;
17: Filter; 19: Hangup; 20: Redirect).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING

from engine.dialer.ami_protocol import AMI_MAX_LINE, AmiMessage, AmiParser
from engine.sim import asterisk_events as ev
from engine.sim.asterisk_calls import OriginateError
from engine.sim.asterisk_events import Pairs, frame

if TYPE_CHECKING:
    from engine.sim.asterisk import AsteriskSim

__all__ = ["Session"]

log = logging.getLogger("engine.sim.asterisk")
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SHUTTING_DOWN = "Asterisk is shutting down"
RELOAD_EVENT = [
    ("Event", "Reload"),
    ("Privilege", "system,all"),
    ("Module", "All"),
    ("Status", "0"),
]


class Session:
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
        if len(channel) > 1 and channel.startswith("/") and channel.endswith("/"):
            return self._hangup_regex(channel[1:-1], cause, aid or "")
        if self.sim.engine.hangup_action(channel, cause):
            self.send(ev.response(aid, "Success", "Channel Hungup"))
        else:
            self.send(ev.response(aid, "Error", "No such channel"))
        return True

    def _hangup_regex(self, pattern: str, cause: int, aid: str) -> bool:
        """``Channel: /regex/`` hangs up every match and lists them (13)."""
        try:
            regex = re.compile(pattern)
        except re.error:
            self.send(ev.response(aid, "Error", "Invalid regex"))
            return True
        names = [ch.name for ch in self.sim.engine.live() if regex.search(ch.name)]
        self.send(
            ev.response(aid, "Success", "Channels hung up will follow", ("EventList", "start"))
        )
        for name in names:
            self.send([("Event", "ChannelHungup"), ("Channel", name), ("ActionID", aid)])
        self.send(
            [
                ("Event", "ChannelsHungupListComplete"),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", str(len(names))),
            ]
        )
        for name in names:
            self.sim.engine.hangup_action(name, cause)
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
