"""Asterisk Manager Interface (AMI) wire protocol: pure parse/encode, no I/O.

Public interface
----------------
``AmiMessage``
    One AMI message: ordered, multi-valued headers (``Variable``/``ChanVariable``/``Data``
    repeat) plus optional free-text ``body`` lines (legacy ``Response: Follows`` command
    output, "immediate responses" without headers).  Lookup is case-insensitive
    (``msg.get("uniqueid")``, ``msg["Event"]``, ``msg.get_all("Variable")``).  ``kind`` is
    ``"event"``, ``"response"``, ``"action"``, ``"banner"``, ``"text"`` (no headers) or
    ``"other"`` (headers but no Event/Response/Action); ``name`` is the
    Event / Response / Action value.
``AmiParser``
    Incremental: ``feed(data: bytes) -> list[AmiMessage]`` for any split of the byte stream.
    Accepts CRLF and bare-LF line ends, the ``Asterisk Call Manager/x`` banner, values with
    colons and trailing spaces, non-UTF-8 octets (UTF-8 first, else Latin-1 per line), lines
    longer than 1024 bytes (up to ``max_line``; longer lines are dropped and counted), the
    legacy ``Response: Follows ... --END COMMAND--`` body.  Garbage without any header is
    reported in ``errors`` (a bounded list) and never raises.  ``has_partial`` says whether
    an incomplete message is buffered (a truncated stream is never delivered as complete).
``encode_action(name, headers, action_id=None) -> bytes``
    CRLF-framed action.  ``headers`` is a mapping or a sequence of ``(key, value)`` pairs; a
    list value repeats the header (``{"Variable": ["A=1", "B=2"]}``).  Raises
    ``AmiInjectionError`` for CR, LF or any other control character in a value (transcript
    11: a CRLF in a ``Variable`` smuggles headers and whole actions into Asterisk), and for a
    header name that is not a plain token; ``AmiLineTooLong`` for lines Asterisk would refuse
    (over 1024 bytes, "Failed to parse message: line too long").
``encode_message(pairs) -> bytes``
    Same framing for server-side messages (the simulator), validated the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "AMI_MAX_LINE",
    "AmiEncodeError",
    "AmiInjectionError",
    "AmiLineTooLong",
    "AmiMessage",
    "AmiParser",
    "encode_action",
    "encode_message",
    "login_md5_key",
]

#: Asterisk refuses any received line longer than this (transcript 11, fact 10).
AMI_MAX_LINE = 1024

BANNER_PREFIX = "Asterisk Call Manager/"
END_COMMAND = "--END COMMAND--"
# Header names seen in the wild include spaces ("I have spaces"), leading digits
# ("00A-LRP-001") and dashes ("Cause-txt"); anything else on a line is not a header.
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-/()]*\Z")
# What we put on the wire is stricter: a plain token.
_ACTION_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Headers that may precede the raw text of a legacy "Response: Follows".
_FOLLOWS_HEADERS = frozenset({"response", "privilege", "actionid", "message"})

HeaderValue = str | int | Sequence[str]
Headers = Mapping[str, HeaderValue] | Sequence[tuple[str, str]]


class AmiEncodeError(ValueError):
    """An action or message that must not be written to an AMI socket."""


class AmiInjectionError(AmiEncodeError):
    """A header name or value with CR, LF or another control character."""


class AmiLineTooLong(AmiEncodeError):
    """A header line Asterisk would refuse as longer than 1024 bytes."""


class AmiMessage:
    """One AMI message with ordered, possibly repeated headers."""

    __slots__ = ("_index", "body", "headers")

    def __init__(self, headers: Sequence[tuple[str, str]], body: Sequence[str] = ()) -> None:
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        self.body: tuple[str, ...] = tuple(body)
        # reversed: the first occurrence of a repeated key wins
        self._index = {key.lower(): value for key, value in reversed(self.headers)}

    @classmethod
    def banner(cls, line: str) -> AmiMessage:
        return cls((), (line,))

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._index.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def get_all(self, key: str) -> list[str]:
        low = key.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    def __hash__(self) -> int:
        return hash((self.headers, self.body))

    @property
    def kind(self) -> str:
        if "event" in self._index:
            return "event"
        if "response" in self._index:
            return "response"
        if "action" in self._index:
            return "action"
        if self.headers:
            return "other"
        if len(self.body) == 1 and self.body[0].startswith(BANNER_PREFIX):
            return "banner"
        return "text"

    @property
    def name(self) -> str | None:
        """The Event, Response or Action value (whichever the message is)."""
        for key in ("event", "response", "action"):
            if key in self._index:
                return self._index[key]
        return None

    @property
    def event(self) -> str | None:
        return self._index.get("event")

    @property
    def response(self) -> str | None:
        return self._index.get("response")

    @property
    def action_id(self) -> str | None:
        return self._index.get("actionid")

    def as_dict(self) -> dict[str, str]:
        """First value of every header (original case of the first occurrence)."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            out.setdefault(key, value)
        return out

    def __repr__(self) -> str:
        return f"AmiMessage({list(self.headers)!r}, body={list(self.body)!r})"


def _decode(raw: bytes) -> str:
    # Asterisk passes caller-ID bytes through unchanged, so a Latin-1 name arrives as is.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_header(line: str) -> tuple[str, str] | None:
    """``"Key: Value"`` -> (key, value); value keeps colons and trailing spaces.

    Asterisk itself tolerates ``Key:Value`` without the space, so only one space is removed.
    """
    colon = line.find(":")
    if colon <= 0:
        return None
    key = line[:colon]
    if not _HEADER_NAME.match(key):
        return None
    value = line[colon + 1 :]
    if value.startswith(" "):
        value = value[1:]
    return key, value


class AmiParser:
    """Incremental AMI stream parser (see the module docstring)."""

    def __init__(self, *, max_line: int = 65536, max_errors: int = 100) -> None:
        self.max_line = max_line
        self.max_errors = max_errors
        self.errors: list[str] = []
        self.banner: str | None = None
        self._buf = b""
        self._skipping = False  # inside an oversized line, dropping bytes until LF
        self._headers: list[tuple[str, str]] = []
        self._body: list[str] = []
        self._follows = False  # legacy Response: Follows, body until --END COMMAND--
        self._in_body = False
        self._started = False  # any line of the current message seen
        self._known_keys: set[str] = set()  # header names already validated

    @property
    def has_partial(self) -> bool:
        return bool(self._buf) or self._started

    def _error(self, text: str) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(text)

    def feed(self, data: bytes) -> list[AmiMessage]:
        out: list[AmiMessage] = []
        buf = self._buf + data if self._buf else data
        cut = buf.rfind(b"\n") + 1
        rest = buf[cut:]
        if cut:
            try:
                # Fast path: the whole chunk is UTF-8; decode once, not per line.
                lines = buf[:cut].decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = [_decode(raw) for raw in buf[:cut].split(b"\n")]
            lines.pop()  # empty: the chunk ends in LF
            self._lines(lines, out)
        if len(rest) > self.max_line:
            self._error(f"line over {self.max_line} bytes dropped")
            self._skipping = True
            rest = b""
        self._buf = rest
        return out

    def _lines(self, lines: list[str], out: list[AmiMessage]) -> None:
        known = self._known_keys
        for line in lines:
            if self._skipping:
                self._skipping = False
                continue
            if line.endswith("\r"):
                line = line[:-1]
            # Fast path for the common "Key: Value" line of an ordinary message.
            if self._started and not self._follows and not self._in_body and line:
                colon = line.find(":")
                if colon > 0:
                    key = line[:colon]
                    if key in known or _HEADER_NAME.match(key):
                        if len(known) < 4096:
                            known.add(key)
                        value = line[colon + 1 :]
                        self._headers.append((key, value[1:] if value[:1] == " " else value))
                        continue
            self._line(line, out)

    def _line(self, line: str, out: list[AmiMessage]) -> None:
        if self._follows:
            self._follows_line(line, out)
            return
        if not line:
            self._finish(out)
            return
        if not self._started and line.startswith(BANNER_PREFIX):
            self.banner = line
            out.append(AmiMessage.banner(line))
            return
        self._started = True
        pair = None if self._in_body else split_header(line)
        if pair is None:
            self._body.append(line)
            return
        self._headers.append(pair)
        if (
            len(self._headers) == 1
            and pair[0].lower() == "response"
            and pair[1].strip().lower() == "follows"
        ):
            self._follows = True

    def _follows_line(self, line: str, out: list[AmiMessage]) -> None:
        if line.endswith(END_COMMAND):
            head = line[: -len(END_COMMAND)]
            if head:
                self._body.append(head)
            self._follows = False
            self._finish(out)
            return
        pair = split_header(line)
        if pair is not None and self._body and not self._body[-1] and _starts_message(pair):
            # A blank line then "Action:/Event:/Response:": the peer never sent
            # --END COMMAND-- (seen in goami2 captures); do not swallow the rest of the stream.
            self._body.pop()
            self._follows = False
            self._finish(out)
            self._line(line, out)
            return
        if not self._in_body and pair is not None and pair[0].lower() in _FOLLOWS_HEADERS:
            self._headers.append(pair)
            return
        self._in_body = True
        self._body.append(line)

    def _finish(self, out: list[AmiMessage]) -> None:
        headers, body = self._headers, self._body
        self._headers, self._body = [], []
        self._started = self._in_body = self._follows = False
        if headers:
            out.append(AmiMessage(headers, body))
        elif body:
            if any(_CONTROL.search(b) for b in body):
                self._error(f"syntax error: {len(body)} line(s) without a header dropped")
            else:
                out.append(AmiMessage((), body))


def _starts_message(pair: tuple[str, str]) -> bool:
    return pair[0].lower() in ("action", "event", "response")


def _pairs(headers: Headers) -> Iterable[tuple[str, str]]:
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(value, str | int):
                yield key, _text(value)
            else:
                for item in value:
                    yield key, _text(item)
    else:
        for key, value in headers:
            yield key, _text(value)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise AmiEncodeError(f"header value of type {type(value).__name__} is not text")


def _check_pair(key: str, value: str) -> None:
    if not _ACTION_TOKEN.match(key):
        raise AmiInjectionError(f"invalid AMI header name {key!r}")
    if _CONTROL.search(value):
        # Never echo the value: it may hold a phone number or free text.
        raise AmiInjectionError(
            f"AMI header {key!r} has a CR, LF or other control character in its value"
        )
    if len(key) + 2 + len(value.encode("utf-8")) > AMI_MAX_LINE:
        raise AmiLineTooLong(f"AMI header {key!r} is longer than {AMI_MAX_LINE} bytes")


def encode_message(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Frame validated ``(key, value)`` pairs as one CRLF message."""
    lines = []
    for key, value in pairs:
        _check_pair(key, value)
        lines.append(f"{key}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def encode_action(name: str, headers: Headers = (), action_id: str | None = None) -> bytes:
    """Encode ``Action: name`` with its headers; refuses injection (see module doc)."""
    pairs: list[tuple[str, str]] = [("Action", name)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    for key, value in _pairs(headers):
        if key.lower() == "action":
            raise AmiEncodeError("the Action header is given by name, not in headers")
        pairs.append((key, value))
    if not _ACTION_TOKEN.match(name):
        raise AmiInjectionError(f"invalid AMI action name {name!r}")
    return encode_message(pairs)


def login_md5_key(challenge: str, secret: str) -> str:
    """``Key`` for ``Login`` with ``AuthType: MD5`` (manager.c: md5(challenge + secret))."""
    return hashlib.md5((challenge + secret).encode("utf-8"), usedforsecurity=False).hexdigest()
