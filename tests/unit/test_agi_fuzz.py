"""Whatever a peer sends, the parser answers with a reply or AgiProtocolError, never a crash;
whatever we encode is exactly one line."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ivr.agi_protocol import (
    AgiProtocolError,
    ReplyAssembler,
    encode_command,
    parse_environment,
)


@settings(deadline=None)  # the machine is shared: no timing in tests
@given(st.lists(st.text(max_size=80), max_size=20))
def test_assembler_never_crashes(lines: list[str]) -> None:
    assembler = ReplyAssembler()
    for line in lines:
        with contextlib.suppress(AgiProtocolError):
            assembler.feed(line)


@settings(deadline=None)  # the machine is shared: no timing in tests
@given(st.text(max_size=400))
def test_environment_parser_never_crashes(text: str) -> None:
    try:
        env = parse_environment(text)
    except AgiProtocolError:
        return
    assert all(name.startswith("agi_") for name in env.values)


@settings(deadline=None)  # the machine is shared: no timing in tests
@given(st.lists(st.text(max_size=40), max_size=5))
def test_encoded_command_is_one_line_or_refused(args: list[str]) -> None:
    try:
        wire = encode_command("SET VARIABLE", *args)
    except AgiProtocolError:
        assert any(ord(c) < 0x20 or ord(c) == 0x7F for a in args for c in a)
        return
    assert wire.count(b"\n") == 1 and wire.endswith(b"\n") and b"\r" not in wire
