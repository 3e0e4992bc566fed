"""Bookkeeping behind ``AmiClient`` (no sockets): pending actions, event routing, AMI errors.

``PendingActions`` matches responses (and the events of list actions such as
CoreShowChannels, ``EventList: start`` ... ``*Complete``) to the action that asked, by ActionID;
``fail_all()`` fails every waiting action with ``AmiConnectionLost`` when the connection drops,
which is what guarantees nothing is ever sent twice.  ``EventRouter`` delivers events to
subscribers: all events, by channel id (``Uniqueid``/``DestUniqueid``/``Linkedid``: the
Originate ChannelId comes back in those, transcripts README fact 1 and 17) or by ActionID
(``OriginateResponse`` goes to every AMI connection, fact 16: match it, ignore the rest).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.dialer.ami_protocol import AmiMessage

__all__ = [
    "AmiActionError",
    "AmiConnectionLost",
    "AmiLoginError",
    "AmiTimeout",
    "EventCallback",
    "EventRouter",
    "PendingActions",
    "Subscription",
    "mask_numbers",
]

log = logging.getLogger("engine.dialer.ami_client")

EventCallback = Callable[[AmiMessage], object]
_DIGITS = re.compile(r"\+?\d{6,}")
_ROUTE_KEYS = ("Uniqueid", "DestUniqueid", "Linkedid")


def mask_numbers(text: str) -> str:
    """Mask phone-number-like digit runs in a log line (``+3161****678``)."""
    return _DIGITS.sub(lambda m: m.group()[:5] + "****" + m.group()[-3:], text)


class AmiConnectionLost(ConnectionError):
    """The AMI connection is down (or went down before the action was answered)."""


class AmiTimeout(TimeoutError):
    """No answer to an action in time."""


class AmiActionError(Exception):
    """Asterisk answered ``Response: Error``."""

    def __init__(self, action: str, response: AmiMessage) -> None:
        super().__init__(f"{action} failed: {response.get('Message', '(no message)')}")
        self.response = response


class AmiLoginError(AmiActionError):
    """Wrong username/secret or login refused (e.g. Asterisk shutting down)."""


@dataclass
class _Pending:
    name: str
    future: asyncio.Future[list[AmiMessage]]
    list_action: bool
    items: list[AmiMessage] = field(default_factory=list)


class PendingActions:
    """Actions written to the socket and not answered yet, by ActionID."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Pending] = {}

    def add(self, action_id: str, name: str, list_action: bool) -> asyncio.Future[list[AmiMessage]]:
        future: asyncio.Future[list[AmiMessage]] = asyncio.get_running_loop().create_future()
        self._by_id[action_id] = _Pending(name, future, list_action)
        return future

    def forget(self, action_id: str) -> None:
        self._by_id.pop(action_id, None)

    def is_list_item(self, msg: AmiMessage) -> bool:
        pending = self._by_id.get(msg.action_id or "")
        return pending is not None and pending.list_action

    def on_response(self, msg: AmiMessage) -> bool:
        """Resolve the action ``msg`` answers; False for an ActionID we never sent."""
        action_id = msg.action_id or ""
        pending = self._by_id.get(action_id)
        if pending is None:
            return False
        if (msg.response or "").lower() == "error":
            self._finish(action_id, error=AmiActionError(pending.name, msg))
            return True
        pending.items.append(msg)
        if not pending.list_action or (msg.get("EventList") or "").lower() != "start":
            self._finish(action_id)
        return True

    def on_list_item(self, msg: AmiMessage) -> None:
        action_id = msg.action_id or ""
        pending = self._by_id[action_id]
        pending.items.append(msg)
        if (msg.get("EventList") or "").lower() == "complete" or (msg.event or "").endswith(
            "Complete"
        ):
            self._finish(action_id)

    def _finish(self, action_id: str, error: Exception | None = None) -> None:
        pending = self._by_id.pop(action_id)
        if pending.future.done():
            return
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(pending.items)

    def fail_all(self, reason: str) -> None:
        pending, self._by_id = self._by_id, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(AmiConnectionLost(f"{p.name}: connection lost ({reason})"))

    def __len__(self) -> int:
        return len(self._by_id)


class Subscription:
    """A registered event callback; ``close()`` removes it."""

    def __init__(self, router: EventRouter, key: tuple[str, str], callback: EventCallback):
        self._router, self.key, self.callback = router, key, callback

    def close(self) -> None:
        self._router.unsubscribe(self)


class EventRouter:
    """Delivers events to callbacks; a failing callback is logged, never fatal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subs: dict[tuple[str, str], list[Subscription]] = {}
        self._background: set[asyncio.Future[object]] = set()

    def subscribe(
        self,
        callback: EventCallback,
        *,
        channel_id: str | None = None,
        action_id: str | None = None,
    ) -> Subscription:
        if channel_id is not None:
            key = ("channel", channel_id)
        elif action_id is not None:
            key = ("action", action_id)
        else:
            key = ("all", "")
        sub = Subscription(self, key, callback)
        self._subs.setdefault(key, []).append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subs[sub.key]

    def route(self, msg: AmiMessage) -> None:
        targets: list[Subscription] = list(self._subs.get(("all", ""), ()))
        seen: set[str] = set()
        for key in _ROUTE_KEYS:
            value = msg.get(key)
            if value and value not in seen:
                seen.add(value)
                targets.extend(self._subs.get(("channel", value), ()))
        if msg.action_id:
            targets.extend(self._subs.get(("action", msg.action_id), ()))
        for sub in targets:
            self.notify(sub.callback, msg)

    def notify(self, callback: Callable[..., object] | None, *args: object) -> None:
        """Call a callback; coroutines are scheduled (and kept referenced until done)."""
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            log.exception("AMI %s: callback failed", self.name)
            return
        if asyncio.iscoroutine(result):
            self.spawn(result)

    def spawn(self, coro: object) -> None:
        task: asyncio.Future[object] = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._background.add(task)
        task.add_done_callback(self._background.discard)
