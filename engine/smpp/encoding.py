"""SMS text encoding and segmentation (pure, no I/O).

GSM 03.38 default alphabet + extension table (3GPP TS 23.038), UCS-2 (sent as UTF-16 BE with
``data_coding 8``), automatic choice, and concatenation by 8-bit or 16-bit reference UDH
(TS 23.040 9.2.3.24.1) or one ``message_payload``. An extension character (ESC pair) and a
UTF-16 surrogate pair are never split across parts: python-smpplib splits encoded bytes
blindly, which puts a lone ESC or half an emoji on the handset (fixture vectors
``smpplib_split_hazard_*``).
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass
from typing import Literal

from engine.errors import InvalidInput

Concat = Literal["udh8", "udh16", "payload"]
Encoding = Literal["GSM7", "UCS2"]

# Index = 7-bit code. 0x1B is the escape to the extension table, never a character.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_BASIC: dict[str, int] = {ch: code for code, ch in enumerate(_BASIC) if code != 0x1B}
GSM7_EXTENSION: dict[str, int] = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESC = 0x1B

#: data_coding values: 0 = SMSC default alphabet (GSM 03.38, unpacked septets), 8 = UCS-2.
DATA_CODING = {"GSM7": 0x00, "UCS2": 0x08}
#: esm_class bit that says the short_message starts with a User Data Header.
ESM_UDHI = 0x40

_SINGLE = {"GSM7": 160, "UCS2": 70}
_PART = {("GSM7", "udh8"): 153, ("GSM7", "udh16"): 152, ("UCS2", "udh8"): 67, ("UCS2", "udh16"): 66}
#: SMPP caps message_payload at 64 KiB; far beyond any useful SMS.
_PAYLOAD_MAX_OCTETS = 65_535
#: Characters that pass although they are control characters: line breaks and the GSM form feed.
_ALLOWED_CONTROLS = frozenset("\n\r\x0c")


class SmsTextError(InvalidInput):
    """The text cannot be sent as an SMS (control characters, invalid Unicode)."""

    code = "sms_text_invalid"


class SmsTooLong(InvalidInput):
    """The text needs more segments than allowed; the message names how many."""

    code = "sms_too_long"

    def __init__(self, needed: int, allowed: int, encoding: Encoding):
        super().__init__(
            f"SMS text needs {needed} segments ({encoding}), at most {allowed} allowed"
        )
        self.needed = needed
        self.allowed = allowed


@dataclass(frozen=True, slots=True)
class Segment:
    """One submit_sm worth of text: ``short_message`` (or ``message_payload``) ready to send."""

    index: int  # 1-based
    total: int
    encoding: Encoding
    text: str
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2), without the UDH
    udh: bytes
    payload: bytes  # UDH + encoded text
    use_message_payload: bool = False

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.encoding]

    @property
    def esm_class(self) -> int:
        return ESM_UDHI if self.udh else 0


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Encoding
    segments: int
    units: int


def find_control_chars(text: str) -> list[int]:
    """Positions of characters that must not reach a handset (C0/C1 controls, lone surrogates)."""
    bad = []
    for pos, ch in enumerate(text):
        if ch in _ALLOWED_CONTROLS:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cs":
            bad.append(pos)
    return bad


def sanitize_text(text: str) -> str:
    """Tabs become spaces, other control characters and lone surrogates are dropped."""
    text = text.replace("\t", " ")
    bad = set(find_control_chars(text))
    return "".join(ch for pos, ch in enumerate(text) if pos not in bad)


def _check_text(text: str) -> None:
    bad = find_control_chars(text)
    if bad:
        first = bad[0]
        raise SmsTextError(
            f"SMS text contains {len(bad)} control character(s), first U+{ord(text[first]):04X} "
            f"at position {first}; use sanitize_text() or remove them"
        )


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def choose_encoding(text: str) -> Encoding:
    return "GSM7" if is_gsm7(text) else "UCS2"


def char_units(ch: str, encoding: Encoding) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) one character costs."""
    if encoding == "GSM7":
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def encode_text(text: str, encoding: Encoding) -> bytes:
    """Unpacked GSM-7 septets (one per octet, as SMPP carries them) or UTF-16 BE."""
    if encoding == "UCS2":
        return text.encode("utf-16-be")
    out = bytearray()
    for ch in text:
        ext = GSM7_EXTENSION.get(ch)
        if ext is not None:
            out += bytes((ESC, ext))
        else:
            out.append(GSM7_BASIC[ch])
    return bytes(out)


_REV_EXTENSION = {v: k for k, v in GSM7_EXTENSION.items()}


def decode_gsm7(data: bytes) -> str:
    """Unpacked septets to text; an unknown escape falls back to the basic character."""
    if ESC not in data and max(data, default=0) < 0x80:
        return "".join([_BASIC[b] for b in data])
    rev_ext = _REV_EXTENSION
    out = []
    escaped = False
    for b in data:
        if escaped:
            out.append(rev_ext.get(b, _BASIC[b & 0x7F]))
            escaped = False
        elif b == ESC:
            escaped = True
        else:
            out.append(_BASIC[b & 0x7F])
    return "".join(out)


def decode_short_message(data: bytes, data_coding: int) -> str:
    """Text of an incoming short_message (MO) under its data_coding."""
    if data_coding == 0x08:
        return data.decode("utf-16-be", errors="replace")
    if data_coding in (0x03, 0x01):
        return data.decode("latin-1")
    return decode_gsm7(data)


def _split(text: str, encoding: Encoding, capacity: int) -> list[tuple[str, int]]:
    """Greedy split; a character's units stay in one part (ESC pairs, surrogate pairs)."""
    parts: list[tuple[str, int]] = []
    start, used = 0, 0
    for pos, ch in enumerate(text):
        cost = char_units(ch, encoding)
        if used + cost > capacity:
            parts.append((text[start:pos], used))
            start, used = pos, 0
        used += cost
    parts.append((text[start:], used))
    return parts


def _udh(concat: Concat, ref: int, total: int, index: int) -> bytes:
    if concat == "udh16":
        return bytes((0x06, 0x08, 0x04, (ref >> 8) & 0xFF, ref & 0xFF, total, index))
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, index))


def _total_units(text: str, encoding: Encoding) -> int:
    return sum(char_units(ch, encoding) for ch in text)


def _plan(text: str, encoding: Encoding, concat: Concat) -> list[tuple[str, int]]:
    units = _total_units(text, encoding)
    if concat == "payload" or units <= _SINGLE[encoding]:
        return [(text, units)]
    return _split(text, encoding, _PART[(encoding, concat)])


def count_segments(text: str, *, concat: Concat = "udh8") -> SegmentInfo:
    """Encoding, number of SMS parts the handset receives, and units, for the estimate.

    With ``message_payload`` the SMSC splits; the count is still what the network bills, so it
    is computed as for 8-bit UDH.
    """
    _check_text(text)
    encoding = choose_encoding(text)
    billing = "udh8" if concat == "payload" else concat
    parts = _plan(text, encoding, billing)
    return SegmentInfo(encoding, len(parts), _total_units(text, encoding))


def segment(
    text: str,
    *,
    concat: Concat = "udh8",
    ref: int | None = None,
    max_segments: int | None = None,
    encoding: Encoding | None = None,
    ref_bits: int | None = None,
) -> list[Segment]:
    """Split ``text`` into ready-to-send segments (GSM-7 when possible, else UCS-2).

    ``ref`` is the concatenation reference (defaults to a hash of the text); ``ref_bits=16``
    is a shorthand for ``concat="udh16"``; ``max_segments`` raises :class:`SmsTooLong` naming
    the count when the text needs more parts.
    """
    if ref_bits is not None:
        if ref_bits not in (8, 16):
            raise ValueError("ref_bits must be 8 or 16")
        concat = "udh16" if ref_bits == 16 else "udh8"
    _check_text(text)
    if not text:
        raise SmsTextError("SMS text is empty")
    enc: Encoding = encoding or choose_encoding(text)
    if enc == "GSM7" and not is_gsm7(text):
        raise SmsTextError("text has characters outside the GSM 03.38 alphabet")
    billing: Concat = "udh8" if concat == "payload" else concat
    planned = _plan(text, enc, billing)
    if max_segments is not None and len(planned) > max_segments:
        raise SmsTooLong(len(planned), max_segments, enc)
    if concat == "payload":
        return [_payload_segment(text, enc)]
    if ref is None:
        ref = zlib.crc32(text.encode("utf-8"))
    ref &= 0xFFFF if concat == "udh16" else 0xFF
    total = len(planned)
    if total > 255:
        raise SmsTooLong(total, 255, enc)
    out = []
    for idx, (part, units) in enumerate(planned, start=1):
        udh = _udh(concat, ref, total, idx) if total > 1 else b""
        out.append(Segment(idx, total, enc, part, units, udh, udh + encode_text(part, enc)))
    return out


def _payload_segment(text: str, enc: Encoding) -> Segment:
    body = encode_text(text, enc)
    if len(body) > _PAYLOAD_MAX_OCTETS:
        raise SmsTextError(f"text is {len(body)} octets, message_payload holds at most 65535")
    return Segment(1, 1, enc, text, _total_units(text, enc), b"", body, use_message_payload=True)
