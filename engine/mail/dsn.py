"""Read a bounce (RFC 3464 delivery status notification) as it comes back to the sender.

Pure: bytes in, the Message-ID of our original message and the reason out. Only a recipient
whose ``Action`` is ``failed`` makes a bounce; ``delayed`` and ``relayed`` reports are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message

_ADDRESS = re.compile(r"[^\s<>@\"';,]+@[^\s<>@\"';,]+")


@dataclass(frozen=True)
class DsnBounce:
    message_id: str
    status: str
    #: Diagnostic text with every address replaced (it goes into the dossier).
    reason: str


def scrub_addresses(text: str) -> str:
    return " ".join(_ADDRESS.sub("<adres>", text).split())[:200]


def parse_dsn(raw: bytes) -> DsnBounce | None:
    """The bounce in a DSN, or None when it is no DSN or reports no failed recipient."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return None
    failed: Message | None = None
    original_id: str | None = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status" and failed is None:
            failed = _first_failed(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and original_id is None:
            original_id = _original_message_id(part)
    if failed is None or not original_id:
        return None
    status = str(failed.get("Status", "")).strip()
    diagnostic = str(failed.get("Diagnostic-Code", "")).strip()
    diagnostic = diagnostic.split(";", 1)[-1].strip() if diagnostic else ""
    return DsnBounce(original_id, status, scrub_addresses(f"{status} {diagnostic}".strip()))


def _first_failed(part: Message) -> Message | None:
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return None
    # Block 0 is about the message (Reporting-MTA); the rest are one per recipient.
    for block in blocks[1:]:
        if isinstance(block, Message) and str(block.get("Action", "")).strip().lower() == "failed":
            return block
    return None


def _original_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        original = inner[0] if isinstance(inner, list) and inner else None
    else:
        text = part.get_payload(decode=True)
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        original = message_from_string(body, policy=policy.compat32)
    if not isinstance(original, Message):
        return None
    value = original.get("Message-ID")
    return " ".join(str(value).split()) if value else None
