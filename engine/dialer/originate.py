"""What the Originate of one attempt looks like on the wire (pure).

Every value is checked here, before it reaches the AMI encoder (which refuses control
characters too): a number, file name or URL with CR/LF would smuggle headers or whole actions
into Asterisk (transcript 11, fact 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.dialer.call_events import LOCAL_SUFFIX
from engine.dialer.trunks import Lease

__all__ = ["BadOriginate", "OriginateRequest", "build_originate", "dial_string"]

_E164 = re.compile(r"\+[1-9]\d{5,14}\Z")
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,80}\Z")
_SAFE_VALUE = re.compile(r"[\x21-\x7e]{1,900}\Z")  # printable ASCII, no spaces or controls


class BadOriginate(ValueError):
    """The attempt cannot be dialled as given (bad number, unsafe value): never sent."""


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    channel: str
    channel_id: str
    other_channel_id: str | None
    context: str
    caller_id: str
    timeout_ms: int
    variables: dict[str, str]


def dial_string(e164: str, lease: Lease) -> str:
    if not _E164.match(e164):
        raise BadOriginate("number is not in E.164 format")
    if lease.dial_mode == "local":
        # The bnet-dial-<trunk> context applies the line cap, then dials the endpoint.
        return f"Local/{e164[1:]}@bnet-dial-{lease.trunk}"
    return f"PJSIP/{e164}@{lease.endpoint}"


def build_originate(
    *,
    attempt_id: str,
    action_id: str,
    e164: str,
    purpose: str,
    lease: Lease,
    context: str,
    caller_id: str,
    timeout_s: int,
    amd_mode: str = "off",
    msg_file: str | None = None,
    msg_url: str | None = None,
) -> OriginateRequest:
    for name, value in (("attempt", attempt_id), ("action", action_id), ("purpose", purpose)):
        if not _TOKEN.match(value):
            raise BadOriginate(f"{name} id is not a plain token")
    variables = {
        "BNET_ATTEMPT": attempt_id,
        "BNET_ACTION": action_id,
        "BNET_PURPOSE": purpose,
        "BNET_AMD": amd_mode,
        "BNET_TRUNK": lease.trunk,
    }
    # The message is needed only at answer (the IVR waits for it if rendering is late), so
    # a call never waits for speech: without audio yet, these variables are simply absent.
    if msg_file:
        variables["MSG_FILE"] = msg_file
    if msg_url:
        variables["MSG_URL"] = msg_url
    for key, value in variables.items():
        if not _SAFE_VALUE.match(value):
            raise BadOriginate(f"variable {key} has characters that are not allowed")
    if any(c in caller_id for c in "\r\n\x00"):
        raise BadOriginate("caller id has control characters")
    local = lease.dial_mode == "local"
    return OriginateRequest(
        channel=dial_string(e164, lease),
        channel_id=attempt_id,
        other_channel_id=attempt_id + LOCAL_SUFFIX if local else None,
        context=context,
        caller_id=caller_id,
        timeout_ms=timeout_s * 1000,
        variables=variables,
    )
