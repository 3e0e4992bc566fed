"""Reader for the recorded Asterisk transcripts in ``../shared/asterisk/transcripts`` (pure).

Line format (see ``../shared/asterisk/tools/amirec.py``)::

    HH:MM:SS.mmm +seconds TAG text

``AMI<``/``AM2<``/... are bytes Asterisk sent, ``AMI>``/... bytes the client sent.  AMI lines
end in CRLF unless suffixed `` [LF]`` (`` [no EOL]``: none); control characters are written
``\\r``, ``\\t``, ``\\xNN``; ``~~ recv N bytes`` / ``~~ EOF ...`` are read markers.

Public interface
----------------
``load_transcript(path) -> Transcript``; ``Transcript.entries`` (all lines),
``Transcript.stream(tag) -> bytes`` (the exact bytes of one direction of one connection),
``Transcript.messages(tag) -> list[TimedMessage]`` (each parsed ``AmiMessage`` with the time
offset of its first line), ``Transcript.tags()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.dialer.ami_protocol import AmiMessage, AmiParser

__all__ = ["Entry", "TimedMessage", "Transcript", "load_transcript", "unescape"]

_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \+\s*(\d+\.\d+) (\S+) ?(.*)\Z", re.DOTALL)
_ESCAPE = re.compile(r"\\(r|t|x[0-9a-fA-F]{2})")
_AGI_TAGS = ("AGI",)


@dataclass(frozen=True, slots=True)
class Entry:
    offset: float
    tag: str
    text: str


@dataclass(frozen=True, slots=True)
class TimedMessage:
    offset: float
    message: AmiMessage


def unescape(text: str) -> bytes:
    """Inverse of amirec's ``escape_line`` (a literal backslash was not escaped)."""

    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        if code == "r":
            return "\r"
        if code == "t":
            return "\t"
        return chr(int(code[1:], 16))

    out = bytearray()
    # Work per escape so that \xNN above 0x7f becomes that single raw byte.
    pos = 0
    for m in _ESCAPE.finditer(text):
        out += text[pos : m.start()].encode("utf-8")
        char = repl(m)
        out += bytes([ord(char)]) if m.group(1).startswith("x") else char.encode()
        pos = m.end()
    out += text[pos:].encode("utf-8")
    return bytes(out)


@dataclass
class Transcript:
    path: Path
    header: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    def tags(self) -> list[str]:
        seen: dict[str, None] = {}
        for entry in self.entries:
            seen.setdefault(entry.tag, None)
        return list(seen)

    def _lines(self, tag: str) -> list[tuple[float, bytes]]:
        eol = b"\n" if tag.startswith(_AGI_TAGS) else b"\r\n"
        lines: list[tuple[float, bytes]] = []
        for entry in self.entries:
            if entry.tag != tag or entry.text.startswith("~~ "):
                continue
            text, end = entry.text, eol
            if text.endswith(" [LF]"):
                text, end = text[:-5], b"\n"
            elif text.endswith(" [CRLF]"):
                text, end = text[:-7], b"\r\n"
            elif text.endswith(" [no EOL]"):
                text, end = text[:-9], b""
            lines.append((entry.offset, unescape(text) + end))
        return lines

    def stream(self, tag: str = "AMI<") -> bytes:
        return b"".join(raw for _, raw in self._lines(tag))

    def messages(self, tag: str = "AMI<") -> list[TimedMessage]:
        parser = AmiParser()
        out: list[TimedMessage] = []
        first = 0.0
        for offset, raw in self._lines(tag):
            if not parser.has_partial:
                first = offset
            for msg in parser.feed(raw):
                out.append(TimedMessage(first, msg))
        return out

    def eof(self, tag: str = "AMI<") -> bool:
        return any(e.tag == tag and e.text.startswith("~~ EOF") for e in self.entries)


def load_transcript(path: str | Path) -> Transcript:
    path = Path(path)
    transcript = Transcript(path)
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("#"):
                transcript.header.append(line)
                continue
            m = _LINE.match(line)
            if m is None:
                continue
            transcript.entries.append(Entry(float(m.group(2)), m.group(3), m.group(4)))
    return transcript
