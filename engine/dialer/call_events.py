"""Turn AMI events into the few signals a call attempt cares about (pure, no I/O).

Correlation is by identifiers only, never by order (transcripts README, fact 3): the
engine's ChannelId (= ``CallAttempt.id``) comes back as ``Uniqueid`` on the originated
channel, as ``DestUniqueid`` on its DialEnd, and as ``Linkedid`` on the ``;2`` half of a
Local channel; the ``OriginateResponse`` carries the Originate's ``ActionID`` as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["EventLike", "Signal", "candidate_ids", "signal_from_event"]


class EventLike(Protocol):
    """What we need from an AMI message (``engine.dialer.ami_protocol.AmiMessage`` fits)."""

    def get(self, key: str, default: str | None = None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Signal:
    """One normalised fact about one attempt: ``kind`` plus an optional ``value``."""

    kind: str
    attempt_id: str
    value: str = ""


#: Suffix of the OtherChannelId (the ``;2`` half) of Local-channel originates.
LOCAL_SUFFIX = "-2"


def candidate_ids(event: EventLike) -> list[str]:
    """Attempt ids an event may belong to, most specific first; the caller keeps the first
    one it knows (inbound calls, queue agent legs and other clients' calls match none)."""
    out: list[str] = []
    for key in ("Uniqueid", "DestUniqueid", "Linkedid"):
        value = event.get(key)
        if value:
            out.append(value[: -len(LOCAL_SUFFIX)] if value.endswith(LOCAL_SUFFIX) else value)
    return out


def _is_primary(event: EventLike, attempt_id: str) -> bool:
    """Whether the event is about the originated channel itself (not a ;2 half or a peer)."""
    return event.get("Uniqueid") == attempt_id


def signal_from_event(event: EventLike, attempt_id: str) -> Signal | None:
    """Map one AMI event of ``attempt_id`` to a :class:`Signal`, or None if irrelevant."""
    name = event.get("Event") or ""
    handler = _HANDLERS.get(name.lower())
    return handler(event, attempt_id) if handler else None


def _originate_response(event: EventLike, attempt_id: str) -> Signal:
    reason = event.get("Reason") or "0"
    if (event.get("Response") or "").lower() == "success" and reason == "4":
        return Signal("answer", attempt_id, "4")
    return Signal("orig_fail", attempt_id, reason)


def _hangup(event: EventLike, attempt_id: str) -> Signal | None:
    if not _is_primary(event, attempt_id):
        return None  # the ;2 half of a Local channel: its DialEnd is what we want
    return Signal("hangup", attempt_id, event.get("Cause") or "0")


def _dial_end(event: EventLike, attempt_id: str) -> Signal | None:
    # A queue call of a redirected participant also has a DialEnd (the originated channel
    # dialling the agent: Uniqueid = ChannelId); the participant's own dial has only Dest*
    # headers (direct, transcript 02) or runs on the ;2 half of a Local channel (07).
    if event.get("Uniqueid") == attempt_id:
        return None
    return Signal("dial_end", attempt_id, (event.get("DialStatus") or "").upper())


def _newstate(event: EventLike, attempt_id: str) -> Signal | None:
    desc = (event.get("ChannelStateDesc") or "").lower()
    if _is_primary(event, attempt_id) and desc == "ringing":
        return Signal("ringing", attempt_id)
    return None


def _dtmf_end(event: EventLike, attempt_id: str) -> Signal | None:
    if (event.get("Direction") or "Received").lower() != "received":
        return None
    digit = event.get("Digit") or ""
    return Signal("dtmf", attempt_id, digit) if len(digit) == 1 else None


def _user_event(event: EventLike, attempt_id: str) -> Signal | None:
    which = (event.get("UserEvent") or "").lower()
    if which == "outboundcapped":
        return Signal("capped", attempt_id)
    if which == "amdresult":
        return Signal("amd", attempt_id, (event.get("AMDStatus") or "").upper())
    if which == "bnetmenu":
        return Signal("menu", attempt_id, event.get("Choice") or "")
    if which == "bnetmessage":
        return Signal("message", attempt_id, event.get("Status") or "")
    return None


_HANDLERS = {
    "originateresponse": _originate_response,
    "hangup": _hangup,
    "dialend": _dial_end,
    "newstate": _newstate,
    "dtmfend": _dtmf_end,
    "userevent": _user_event,
}
