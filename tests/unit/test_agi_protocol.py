"""AGI wire format, tested on the shared fixtures and on what Asterisk 22 sent (08, 14, 15)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.ivr.agi_protocol import (
    AgiProtocolError,
    AgiReply,
    ReplyAssembler,
    encode_command,
    parse_environment,
    parse_reply_line,
)
from tests.ivr_support import agi_fixture, recorded_agi_sessions

ENVIRONMENTS = agi_fixture("environments.json")["environments"]
RESPONSES = agi_fixture("responses.json")["responses"]
SESSIONS = agi_fixture("sessions.json")["sessions"]


@pytest.mark.parametrize(
    "case", [e for e in ENVIRONMENTS if not e.get("malformed")], ids=lambda e: e["id"]
)
def test_environment_fixtures_parse_to_expected(case: dict[str, Any]) -> None:
    raw = case.get("raw_as_written", case["raw"])
    assert parse_environment(raw).values == case["parsed"]


@pytest.mark.parametrize(
    "case", [e for e in ENVIRONMENTS if e.get("malformed")], ids=lambda e: e["id"]
)
def test_malformed_environment_is_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(AgiProtocolError):
        parse_environment(case["raw"])


def test_environment_gives_script_args_and_ids() -> None:
    env = parse_environment(next(e for e in ENVIRONMENTS if e["id"] == "synth_pjsip_full")["raw"])
    assert env.script == "ivr/main"  # query string is not part of the script
    assert env.args == ["first arg", "", "x=1,y=2"]
    assert env.callerid == "31612345678"
    assert env.get("agi_calleridname") == "Jan de Vérë"


def _expected_reply(case: dict[str, Any]) -> dict[str, Any]:
    exp = dict(case["expected"])
    exp.pop("usage_lines", None)
    return exp


def _fields(reply: AgiReply, expected: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in expected}


@pytest.mark.parametrize(
    "case",
    [r for r in RESPONSES if not r.get("malformed") and r["id"] != "hangup"],
    ids=lambda r: r["id"],
)
def test_reply_first_line_fixtures(case: dict[str, Any]) -> None:
    first = case["raw"].split("\n", 1)[0]
    expected = _expected_reply(case)
    assert _fields(parse_reply_line(first), expected) == expected


@pytest.mark.parametrize(
    "case", [r for r in RESPONSES if r.get("malformed")], ids=lambda r: r["id"]
)
def test_malformed_replies_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply_line(case["raw"])


def _feed_all(text: str) -> tuple[list[AgiReply], ReplyAssembler]:
    assembler = ReplyAssembler()
    replies = [r for line in text.split("\n")[:-1] if (r := assembler.feed(line)) is not None]
    return replies, assembler


@pytest.mark.parametrize(
    "case",
    [r for r in RESPONSES if r["id"].startswith("usage_520_multiline")],
    ids=lambda r: r["id"],
)
def test_multiline_usage_is_one_reply(case: dict[str, Any]) -> None:
    replies, _ = _feed_all(case["raw"])
    assert len(replies) == 1 and replies[0].code == 520
    if "usage_lines" in case["expected"]:
        assert list(replies[0].usage_lines) == case["expected"]["usage_lines"]


def test_hangup_line_is_remembered_not_a_reply() -> None:
    replies, assembler = _feed_all("200 result=-1\nHANGUP\n511 Command Not Permitted\n")
    assert [r.code for r in replies] == [200, 511]
    assert replies[0].failed and assembler.hangup_seen


def test_trying_line_precedes_final_reply() -> None:
    replies, _ = _feed_all("100 Trying...\n200 result=0\n")
    assert [(r.code, r.result) for r in replies] == [(200, "0")]


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s["id"])
def test_fixture_sessions_one_reply_per_command(session: dict[str, Any]) -> None:
    assembler = ReplyAssembler()
    commands = replies = 0
    env_done = False
    for step in session["steps"]:
        data = step["data"]
        if step["from"] == "app":
            commands += 1
            continue
        if not env_done:
            env_text, _, data = data.partition("\n\n")
            parse_environment(env_text + "\n\n")
            env_done = True
        for line in data.split("\n")[:-1] if data else []:
            replies += assembler.feed(line) is not None
    # asterisk_java_reply_stream has replies without the commands that caused them
    assert replies == commands or commands == 0


@pytest.mark.parametrize("prefix", ["08", "09", "14", "15"])
def test_transcript_agi_conversations_parse(prefix: str) -> None:
    sessions = recorded_agi_sessions(prefix)
    assert sessions
    for recorded in sessions:
        env = parse_environment(recorded.env_text)
        assert env.script in ("callback", "menu")
        assembler = ReplyAssembler()
        for command, lines in recorded.exchanges:
            replies = [r for line in lines if (r := assembler.feed(line)) is not None]
            assert len(replies) == 1, (command, lines)
            # what we would send means the same as what the recording server sent
            # (it quoted every SET VARIABLE value; we quote only when needed)
            name, args = _split_recorded(command)
            if args is not None:
                wire = encode_command(name, *args).decode().rstrip("\n")
                assert wire.replace('"', "") == command.replace('"', "")


def _split_recorded(command: str) -> tuple[str, list[str] | None]:
    known = {"GET DATA": 2, "SET VARIABLE": 2, "GET VARIABLE": 1, "STREAM FILE": 2}
    for name, argc in known.items():
        if command.startswith(name + " "):
            parts = command[len(name) + 1 :].split(" ")
            args = [p.strip('"') for p in parts]
            if len(args) >= argc:
                return name, args
    return command, None


def test_transcript_14_shows_hangup_then_511() -> None:
    (recorded,) = recorded_agi_sessions("14")
    assembler = ReplyAssembler()
    codes = []
    for command, lines in recorded.exchanges:
        reply = next(r for line in lines if (r := assembler.feed(line)) is not None)
        codes.append((command.split(" ")[0], reply.code, reply.result))
    assert ("GET", 200, "-1") in codes  # GET DATA interrupted by the hangup
    assert ("CHANNEL", 511, None) in codes
    assert assembler.hangup_seen


def test_transcript_15_get_data_digit_and_timeout() -> None:
    results = []
    for recorded in recorded_agi_sessions("15"):
        for command, lines in recorded.exchanges:
            if command.startswith("GET DATA"):
                reply = parse_reply_line(lines[0])
                results.append("timeout" if reply.timed_out else reply.result)
    assert results == ["2", "timeout", "timeout", "2"]


@pytest.mark.parametrize(
    ("raw", "digit"),
    [
        ("200 result=49 endpos=2240", "1"),
        ("200 result=0 endpos=16000", None),
        ("200 result=-1 endpos=0", None),
    ],
)
def test_stream_file_digit_is_ascii_code(raw: str, digit: str | None) -> None:
    assert parse_reply_line(raw).digit() == digit


@pytest.mark.parametrize(
    ("args", "wire"),
    [
        (("STREAM FILE", "msg", ""), 'STREAM FILE msg ""\n'),
        (("GET DATA", "bnet/menu", 5000, 1), "GET DATA bnet/menu 5000 1\n"),
        (
            ("SET VARIABLE", "CALLERID(name)", "BN 3f9a1c +3161****678"),
            'SET VARIABLE CALLERID(name) "BN 3f9a1c +3161****678"\n',
        ),
        (("SET VARIABLE", "X", 'a "q" \\b'), 'SET VARIABLE X "a \\"q\\" \\\\b"\n'),
    ],
)
def test_encode_command_quotes_arguments(args: tuple[Any, ...], wire: str) -> None:
    assert encode_command(*args).decode() == wire


@pytest.mark.parametrize("bad", ["a\nHANGUP", "a\rb", "x\x00", "bell\x07", "del\x7f"])
def test_encode_refuses_control_characters(bad: str) -> None:
    with pytest.raises(AgiProtocolError):
        encode_command("SET VARIABLE", "X", bad)


@pytest.mark.parametrize("name", ["get data", "EXEC\nHANGUP", "", "GET DATA "])
def test_encode_refuses_bad_command_names(name: str) -> None:
    with pytest.raises(AgiProtocolError):
        encode_command(name)


def test_encode_refuses_oversized_command() -> None:
    with pytest.raises(AgiProtocolError):
        encode_command("SET VARIABLE", "X", "y" * 3000)
