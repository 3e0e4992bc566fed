"""FastAGI wire format: the environment block, reply lines, command encoding. Pure, no I/O.

Everything here follows what Asterisk 22.10.1 sent in ../shared/asterisk/transcripts (08, 09,
14, 15) and the fixtures in ../shared/fixtures/agi:

- the environment is ``agi_name: value`` lines (LF) ended by one empty line;
- a reply is ``<code> <text>``; ``200 result=<r> [(<data>)] [k=v ...]``; ``520-`` starts a
  multi-line usage text that ends with ``520 End of proper usage.``; ``100 Trying...`` is an
  intermediate line before the final one;
- ``HANGUP`` is not a reply: Asterisk writes it when the channel hangs up, possibly after the
  next command was already sent (transcript 14), so the reader must skip it and remember it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Variables res_agi.c puts in the environment (plus ``agi_arg_<n>``).
KNOWN_ENV_NAMES = frozenset(
    {
        "agi_network",
        "agi_network_script",
        "agi_request",
        "agi_channel",
        "agi_language",
        "agi_type",
        "agi_uniqueid",
        "agi_version",
        "agi_callerid",
        "agi_calleridname",
        "agi_callingpres",
        "agi_callingani2",
        "agi_callington",
        "agi_callingtns",
        "agi_dnid",
        "agi_rdnis",
        "agi_context",
        "agi_extension",
        "agi_priority",
        "agi_enhanced",
        "agi_accountcode",
        "agi_threadid",
    }
)
_ARG_NAME = re.compile(r"agi_arg_[1-9][0-9]{0,2}")
_COMMAND_NAME = re.compile(r"[A-Z][A-Z ]*[A-Z]")
_RESULT_TOKEN = re.compile(r"result=(\S*)")
_KV_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)")
#: res_agi reads commands into a 2048-byte buffer; stay well inside it.
MAX_COMMAND_BYTES = 2000
USAGE_END = "520 End of proper usage."

# Reply codes (res_agi.c).
TRYING = 100
SUCCESS = 200
INVALID_COMMAND = 510
DEAD_CHANNEL = 511
USAGE = 520


class AgiProtocolError(ValueError):
    """Bytes that are not what Asterisk sends (or a command we refuse to send)."""


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` variables of one FastAGI connection."""

    values: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def script(self) -> str:
        """Path of the agi:// URL without query string, e.g. ``callback`` or ``menu``."""
        return self.get("agi_network_script").split("?", 1)[0].strip("/")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``, ``agi_arg_2`` ... in order (gaps end the list)."""
        out: list[str] = []
        while f"agi_arg_{len(out) + 1}" in self.values:
            out.append(self.values[f"agi_arg_{len(out) + 1}"])
        return out


def parse_env_line(line: str) -> tuple[str, str]:
    """``agi_name: value`` -> (name, value); the value keeps inner spaces, may be empty."""
    line = line.rstrip("\r\n")
    name, sep, value = line.partition(":")
    if not sep:
        raise AgiProtocolError(f"environment line without ':': {line[:60]!r}")
    if not (name in KNOWN_ENV_NAMES or _ARG_NAME.fullmatch(name)):
        raise AgiProtocolError(f"unknown environment variable {name[:40]!r}")
    # Asterisk writes "name: value"; "agi_accountcode: " (trailing space) is an empty value.
    return name, value[1:] if value.startswith(" ") else value


def parse_environment(text: str) -> AgiEnvironment:
    """Parse a whole environment block (up to and including its empty line)."""
    values: dict[str, str] = {}
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line == "":
            break
        name, value = parse_env_line(line)
        values[name] = value
    if not values:
        raise AgiProtocolError("empty AGI environment")
    return AgiEnvironment(values)


@dataclass(frozen=True)
class AgiReply:
    """One final reply to a command."""

    code: int
    #: ``result=`` value as sent ("" for a GET DATA timeout); None when the line has none.
    result: str | None = None
    #: Text in parentheses: the variable value, ``timeout``, ``speech``...
    data: str | None = None
    kv: dict[str, str] = field(default_factory=dict)
    #: Everything after the code (for 5xx the error message).
    text: str = ""
    continuation: bool = False
    usage_lines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS and self.result is not None and self.result != "-1"

    @property
    def timed_out(self) -> bool:
        return self.code == SUCCESS and self.result == "" and self.data == "timeout"

    @property
    def failed(self) -> bool:
        """``result=-1``: the application failed, or the channel hung up (transcript 14)."""
        return self.code == SUCCESS and self.result == "-1"

    def digit(self) -> str | None:
        """The DTMF digit of a STREAM FILE / WAIT FOR DIGIT reply (result is its ASCII code)."""
        if self.code != SUCCESS or not self.result or not self.result.isdigit():
            return None
        value = int(self.result)
        return chr(value) if value > 0 else None


def parse_reply_line(line: str) -> AgiReply:
    """Parse the first line of a reply (raises on anything Asterisk would not send)."""
    line = line.rstrip("\r\n")
    if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
        raise AgiProtocolError(f"not an AGI reply: {line[:60]!r}")
    code = int(line[:3])
    continuation = line[3:4] == "-"
    text = line[4:]
    if code != SUCCESS:
        return AgiReply(code=code, text=text, continuation=continuation)
    return _parse_success(code, text)


def _parse_success(code: int, text: str) -> AgiReply:
    match = _RESULT_TOKEN.match(text)
    if match is None:
        raise AgiProtocolError(f"200 reply without result=: {text[:60]!r}")
    result = match.group(1)
    rest = text[match.end() :].lstrip(" ")
    data: str | None = None
    if rest.startswith("("):
        close = rest.rfind(")")
        if close < 0:
            raise AgiProtocolError(f"unclosed '(' in reply: {text[:60]!r}")
        data, rest = rest[1:close], rest[close + 1 :]
    elif result == "":
        # "200 result=" or "200 result= 1": an empty result always comes with (data).
        raise AgiProtocolError(f"empty result without data: {text[:60]!r}")
    kv = {m.group(1): m.group(2) for m in _KV_TOKEN.finditer(rest)}
    return AgiReply(code=code, result=result, data=data, kv=kv, text=text)


class ReplyAssembler:
    """Turns the lines Asterisk sends after a command into final replies.

    ``feed(line)`` returns the final :class:`AgiReply` once it is complete, else None.
    ``HANGUP`` lines and blank lines between replies are consumed and remembered.
    """

    def __init__(self) -> None:
        self.hangup_seen = False
        self._usage: AgiReply | None = None
        self._usage_lines: list[str] = []

    def feed(self, line: str) -> AgiReply | None:
        line = line.rstrip("\r\n")
        if self._usage is not None:
            return self._feed_usage(line)
        if line == "HANGUP":
            self.hangup_seen = True
            return None
        if line == "":
            # e.g. the extra newline some AGI peers write after the environment
            return None
        reply = parse_reply_line(line)
        if reply.code == TRYING:
            return None
        if reply.continuation:
            self._usage, self._usage_lines = reply, []
            return None
        return reply

    def _feed_usage(self, line: str) -> AgiReply | None:
        assert self._usage is not None
        done = line.startswith("520 ") or line.endswith(USAGE_END)
        if not line.startswith("520 "):
            self._usage_lines.append(line.removesuffix(USAGE_END) if done else line)
        if not done:
            return None
        first, self._usage = self._usage, None
        return AgiReply(
            code=first.code,
            text=first.text,
            continuation=True,
            usage_lines=tuple(self._usage_lines),
        )


def quote_argument(arg: str) -> str:
    """Quote one command argument the way res_agi's parser reads it back."""
    _refuse_control(arg)
    if arg and not any(c in arg for c in ' \t"\\'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(name: str, *args: str | int) -> bytes:
    """``encode_command("GET DATA", "menu", 5000, 1)`` -> ``b"GET DATA menu 5000 1\\n"``.

    Refuses CR/LF and other control characters anywhere: a LF would end the command and
    make Asterisk run whatever follows as a second one.
    """
    if not _COMMAND_NAME.fullmatch(name):
        raise AgiProtocolError(f"not an AGI command name: {name[:40]!r}")
    parts = [name, *(quote_argument(str(a)) for a in args)]
    data = (" ".join(parts) + "\n").encode("utf-8")
    if len(data) > MAX_COMMAND_BYTES:
        raise AgiProtocolError(f"AGI command of {len(data)} bytes is too long")
    return data


def _refuse_control(value: str) -> None:
    for ch in value:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise AgiProtocolError(f"control character {ord(ch):#04x} in AGI argument")
