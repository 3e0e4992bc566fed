"""SMPP facts as data, and pure parsing: framing, status classes, delivery receipts, MO keywords.

No I/O here; the bind (engine.smpp.bind) moves bytes and the service decides what they mean.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import Enum
from typing import Any

HEADER = struct.Struct(">LLLL")
#: Largest PDU accepted from a peer; a length past this is garbage, not a big message.
MAX_PDU_LENGTH = 70_000

# command_status values the sender reacts to (SMPP 3.4 section 5.1.3).
ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B

COMMAND_IDS = {
    "generic_nack": 0x80000000,
    "submit_sm": 0x00000004,
    "submit_sm_resp": 0x80000004,
    "deliver_sm": 0x00000005,
    "deliver_sm_resp": 0x80000005,
    "unbind": 0x00000006,
    "unbind_resp": 0x80000006,
    "enquire_link": 0x00000015,
    "enquire_link_resp": 0x80000015,
}


class FramingError(Exception):
    """The byte stream is not SMPP any more; only a new connection can resynchronise it.

    ``frames`` are the whole PDUs that came before the garbage: the SMSC sent them as SMPP,
    so an answer among them is a known result and must not be thrown away with the rest.
    """

    def __init__(self, message: str, frames: list[bytes] | None = None):
        super().__init__(message)
        self.frames: list[bytes] = frames or []


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    status: int
    sequence: int


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole PDUs at the start of ``buffer`` and the incomplete rest."""
    frames: list[bytes] = []
    pos = 0
    while len(buffer) - pos >= 4:
        (length,) = struct.unpack_from(">L", buffer, pos)
        if length < 16 or length > MAX_PDU_LENGTH:
            raise FramingError(f"impossible command_length {length}", frames)
        if len(buffer) - pos < length:
            break
        frames.append(buffer[pos : pos + length])
        pos += length
    return frames, buffer[pos:]


def parse_header(frame: bytes) -> Header:
    return Header(*HEADER.unpack_from(frame, 0))


class StatusClass(Enum):
    OK = "ok"
    #: The SMSC is full or we are too fast: wait and send the same PDU again.
    BACKOFF = "backoff"
    #: Worth a later retry (system error, temporary unavailability).
    TEMPORARY = "temporary"
    #: The message itself is refused (bad number, bad text): retrying cannot help.
    PERMANENT = "permanent"


#: Statuses where the SMSC or network may accept the same message later.
_TEMPORARY = frozenset({0x08, 0x64, 0x65, 0x66, 0xFE, 0x0D, 0x0E, 0x0F, 0x13, 0xFF})


def classify_status(status: int) -> StatusClass:
    if status == ESME_ROK:
        return StatusClass.OK
    if status in (ESME_RTHROTTLED, ESME_RMSGQFUL):
        return StatusClass.BACKOFF
    if status in _TEMPORARY:
        return StatusClass.TEMPORARY
    return StatusClass.PERMANENT


# Delivery receipts ----------------------------------------------------------------------------

FINAL_STATES = ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN")
#: message_state TLV values (SMPP 3.4 5.2.28) to the receipt text's stat words.
MESSAGE_STATE = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_FIELD = re.compile(
    r"(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)", re.IGNORECASE
)
#: esm_class message type bits (0x3C): SMSC delivery receipt, SME acks, intermediate notification.
ESM_TYPE_MASK = 0x3C
ESM_RECEIPT_TYPES = frozenset({0x04, 0x08, 0x10, 0x20})


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    stat: str
    err: str = ""

    @property
    def final(self) -> bool:
        return self.stat in FINAL_STATES


def is_receipt(esm_class: int) -> bool:
    return (esm_class & ESM_TYPE_MASK) in ESM_RECEIPT_TYPES


def parse_receipt_text(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in _RECEIPT_FIELD.finditer(text)}


def receipt_from(
    text: str, receipted_message_id: str | None, message_state: int | None
) -> Receipt | None:
    """TLVs win over the text (they are typed); the text fills what the TLVs lack."""
    fields = parse_receipt_text(text)
    message_id = receipted_message_id or fields.get("id")
    stat = MESSAGE_STATE.get(message_state or 0) or fields.get("stat", "").upper()
    if not message_id or not stat:
        return None
    return Receipt(message_id, stat, fields.get("err", ""))


def canonical_id(message_id: str) -> str:
    return message_id.strip().lower().lstrip("0") or "0"


def id_forms(message_id: str) -> list[str]:
    """The id as given first, then its hex<->decimal readings.

    SMSCs differ: some answer submit_sm_resp with a hex id and put the same number in decimal
    in the receipt text (or the other way round).
    """
    base = canonical_id(message_id)
    forms = [base]
    if base.isdigit() and len(base) <= 20:
        forms.append(format(int(base), "x"))
    if re.fullmatch(r"[0-9a-f]{1,16}", base):
        forms.append(str(int(base, 16)))
    return list(dict.fromkeys(forms))


# MO messages ----------------------------------------------------------------------------------

#: Texts that unsubscribe (compared after trimming, case-insensitive, punctuation dropped).
STOP_WORDS = frozenset(
    {"stop", "stop burgernet", "burgernet stop", "afmelden", "uitschrijven", "stopp", "stoppen"}
)


def is_stop_request(text: str) -> bool:
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(words) in STOP_WORDS


def pdu_field(pdu: Any, name: str) -> Any:
    """An smpplib PDU attribute, ``None`` when the PDU lacks it (smpplib sets no default)."""
    return getattr(pdu, name, None)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
