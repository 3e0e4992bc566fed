"""AMI parser/encoder on every shared AMI fixture (expected outcomes from index.json)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dialer.ami_protocol import (
    AmiEncodeError,
    AmiInjectionError,
    AmiLineTooLong,
    AmiMessage,
    AmiParser,
    encode_action,
    login_md5_key,
)
from tests.ami_support import FIXTURES, ami_index, fixture_bytes

INDEX = [e for e in ami_index() if e["file"].endswith(".txt")]
WELL_FORMED = [e for e in INDEX if not e.get("malformed")]

pytestmark = pytest.mark.skipif(not INDEX, reason="../shared/fixtures/ami is not present")


def parse(data: bytes) -> tuple[list[AmiMessage], AmiParser]:
    parser = AmiParser()
    return parser.feed(data), parser


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["file"] for e in entries]


@pytest.mark.parametrize("entry", WELL_FORMED, ids=ids(WELL_FORMED))
def test_well_formed_fixture_parses_into_header_messages(entry: dict[str, Any]) -> None:
    messages, parser = parse(fixture_bytes(entry))
    assert messages
    assert parser.errors == []
    kinds = {m.kind for m in messages}
    # Only that long panoramisk capture has holes ("[218 bytes missing in capture file]").
    allowed = {"event", "response", "action", "banner", "text"}
    if "agent_loggued_in" in entry["file"]:
        allowed.add("other")
    assert kinds <= allowed
    if "message_count" in entry:
        assert len(messages) == entry["message_count"]
    bodies = [m for m in messages if m.kind in ("response", "text") and m.body]
    if entry.get("free_text_body"):
        assert bodies, "the free-text body must be kept"
    if entry["direction"] == "client->server":
        assert all(m.kind == "action" for m in messages)


@pytest.mark.parametrize("entry", WELL_FORMED, ids=ids(WELL_FORMED))
def test_byte_by_byte_feed_gives_the_same_messages(entry: dict[str, Any]) -> None:
    data = fixture_bytes(entry)
    whole, _ = parse(data)
    parser = AmiParser()
    pieces = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert pieces == whole


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20))
def test_random_tcp_splits_do_not_change_the_result(cuts: list[int]) -> None:
    data = (FIXTURES / "ami/synthesized/originate_async.server.txt").read_bytes()
    whole, _ = parse(data)
    parser = AmiParser()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    got = [m for a, b in itertools.pairwise(bounds) for m in parser.feed(data[a:b])]
    assert got == whole


def test_newstate_keeps_odd_header_names_and_repeated_chanvariable() -> None:
    (msg,), _ = parse((FIXTURES / "ami/goami2/newstate_odd_header_names.txt").read_bytes())
    assert len(msg.headers) == 23
    assert msg["00A-LRP-001"] == "local"
    assert msg.get_all("ChanVariable") == [
        "realm=",
        "SIPDOMAIN=okon.sip.com",
        "SIPCALLID=b5ser03agv7huo7faai5",
    ]


def test_values_keep_colons_and_trailing_spaces() -> None:
    data = (FIXTURES / "ami/ruby_ami/event_values_with_colons.txt").read_bytes()
    event, response = parse(data)[0]
    assert event["Channel"] == "IAX2/127.0.0.1:4569-9904"
    assert event["AppData"] == "agi://localhost"
    assert response["I have spaces"] == "i have trailing padding   "
    assert response["x-header"] == "<FooBAR>"


def test_repeated_data_headers_are_kept_in_order() -> None:
    _, user = parse((FIXTURES / "ami/synthesized/duplicate_keys.txt").read_bytes())[0]
    assert user.event == "UserEvent"
    assert user.get_all("Data") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("name", "items"),
    [
        ("coreshowchannels.server.txt", 2),
        ("coreshowchannels_empty.server.txt", 0),
        ("status.server.txt", 1),
    ],
)
def test_event_lists_end_with_complete_and_list_items(name: str, items: int) -> None:
    messages, _ = parse((FIXTURES / "ami/synthesized" / name).read_bytes())
    assert messages[0]["EventList"] == "start"
    complete = next(m for m in messages if m.event and m.event.endswith("Complete"))
    listed = [m for m in messages if m.event in ("CoreShowChannel", "Status")]
    assert int(complete["ListItems"]) == items == len(listed)
    assert all(m.action_id == messages[0].action_id for m in listed)


def test_legacy_follows_body_keeps_bare_lf_lines_until_end_command() -> None:
    first, second = parse(
        (FIXTURES / "ami/synthesized/command_follows_legacy.server.txt").read_bytes()
    )[0]
    assert first.response == "Follows" and first.action_id == "cmd-legacy-1"
    assert first.body[1:] == ("0 active channels", "0 active calls", "2 calls processed")
    assert second.body == ("Updated database successfully",)


def test_follows_body_line_that_looks_like_a_header_stays_body() -> None:
    _, msg = parse((FIXTURES / "ami/ruby_ami/follows_uptime.txt").read_bytes())[0]
    assert msg.body == ("System uptime: 46 minutes, 30 seconds",)
    assert "System uptime" not in msg


def test_immediate_free_text_response_between_messages() -> None:
    messages, _ = parse(
        (FIXTURES / "ami/ruby_ami/immediate_response_between_messages.txt").read_bytes()
    )
    assert [m.kind for m in messages] == ["response", "text", "response"]
    assert messages[1].body == ("No queues have been created.",)


def test_md5_login_key_matches_the_fixture() -> None:
    entry = next(e for e in INDEX if "md5" in e)
    md5 = entry["md5"]
    assert login_md5_key(md5["challenge"], md5["secret"]) == md5["key"]
    client = parse((FIXTURES / "ami/synthesized/login_md5_challenge.client.txt").read_bytes())[0]
    assert client[1]["Key"] == md5["key"]


# -- malformed input: what index.json says a robust client does -------------------------------


def test_empty_input_gives_nothing() -> None:
    messages, parser = parse(b"")
    assert messages == [] and not parser.has_partial


@pytest.mark.parametrize(
    "name",
    ["truncated_mid_header.txt", "goami2_incomplete_packet.txt", "goami2_invalid_string.txt"],
)
def test_incomplete_message_is_never_delivered(name: str) -> None:
    messages, parser = parse((FIXTURES / "ami/malformed" / name).read_bytes())
    assert messages == []
    assert parser.has_partial


def test_banner_then_eof() -> None:
    (banner,), parser = parse((FIXTURES / "ami/malformed/banner_only.txt").read_bytes())
    assert banner.kind == "banner"
    assert parser.banner == "Asterisk Call Manager/13.0.0"
    assert not parser.has_partial


def test_lf_only_framing_is_accepted() -> None:
    messages, _ = parse((FIXTURES / "ami/malformed/lf_only_line_endings.txt").read_bytes())
    assert [m.name for m in messages] == ["Success", "FullyBooted"]
    assert messages[0].action_id == "lf-1"


def test_latin1_caller_id_is_still_parsed() -> None:
    (msg,), _ = parse((FIXTURES / "ami/malformed/latin1_value.txt").read_bytes())
    assert msg["CallerIDName"] == "José Müller"


def test_garbage_is_a_syntax_error_and_the_stream_stays_usable() -> None:
    parser = AmiParser()
    garbage = (FIXTURES / "ami/malformed/ruby_ami_syntax_error_chunk.txt").read_bytes()
    assert parser.feed(garbage) == []
    assert parser.errors
    (msg,) = parser.feed(b"Response: Success\r\nActionID: after\r\n\r\n")
    assert msg.action_id == "after"


@pytest.mark.parametrize("name", ["goami2_hello_bye.txt", "goami2_invalid_message_line.txt"])
def test_line_without_key_value_is_text_not_a_message_with_headers(name: str) -> None:
    (msg,), _ = parse((FIXTURES / "ami/malformed" / name).read_bytes())
    assert msg.kind == "text" and msg.headers == ()


def test_header_without_space_after_colon_is_tolerated_like_asterisk() -> None:
    (msg,), _ = parse((FIXTURES / "ami/malformed/goami2_invalid_header.txt").read_bytes())
    assert msg.event == "MoH"
    assert msg["Priv"] == "all"
    assert msg.body == ("Chan",)


def test_split_across_reads() -> None:
    spec = json.loads((FIXTURES / "ami/malformed/split_across_reads.json").read_text())
    parser = AmiParser()
    got = [m for chunk in spec["chunks"] for m in parser.feed(chunk.encode())]
    assert len(got) == 1
    assert got[0].as_dict() == spec["expected"]


def test_lines_over_1024_bytes_are_parsed_and_huge_lines_dropped() -> None:
    long_value = "x" * 3000
    (msg,), _ = parse(f"Event: Big\r\nAppData: {long_value}\r\n\r\n".encode())
    assert msg["AppData"] == long_value
    parser = AmiParser(max_line=4096)
    assert parser.feed(b"Event: Huge\r\nAppData: " + b"y" * 10000) == []
    assert parser.errors
    rest = parser.feed(b"yyy\r\n\r\nEvent: Next\r\n\r\n")
    assert [m.event for m in rest] == ["Huge", "Next"]
    assert "AppData" not in rest[0]


# -- encoder ------------------------------------------------------------------------------------


def test_encode_originate_round_trips_with_repeated_variables() -> None:
    raw = encode_action(
        "Originate",
        {"Channel": "PJSIP/1000@trunk", "Async": "true", "Variable": ["MSG_FILE=x", "C=1"]},
        action_id="o-1",
    )
    assert raw.endswith(b"\r\n\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    (msg,), _ = parse(raw)
    assert msg.kind == "action" and msg.name == "Originate" and msg.action_id == "o-1"
    assert msg.get_all("Variable") == ["MSG_FILE=x", "C=1"]


def test_utf8_values_pass_unchanged() -> None:
    raw = encode_action("Originate", [("CallerID", '"Jürgen Müller ☎" <4930123456>')])
    (msg,), _ = parse(raw)
    assert msg["CallerID"] == '"Jürgen Müller ☎" <4930123456>'


@pytest.mark.parametrize(
    "value",
    [
        "FOO=bar\r\nVariable: INJECTED=yes",
        "FOO=bar\r\n\r\nAction: Ping\r\nActionID: smuggled-ping",
        "FOO=bar\nVariable: INJECTED2=yes",
        "FOO=bar\rVariable: SMUGGLED=yes",
        "tab\there",
        "nul\x00",
        "del\x7f",
    ],
)
def test_control_characters_in_values_are_refused(value: str) -> None:
    with pytest.raises(AmiInjectionError) as err:
        encode_action("Originate", {"Variable": [value]})
    assert "INJECTED" not in str(err.value) and "bar" not in str(err.value)


@pytest.mark.parametrize("name", ["Vari able", "X:Y", "A\r\nB", "", "-x"])
def test_bad_header_names_are_refused(name: str) -> None:
    with pytest.raises(AmiInjectionError):
        encode_action("Ping", [(name, "v")])


def test_bad_action_name_and_action_id_are_refused() -> None:
    with pytest.raises(AmiInjectionError):
        encode_action("Ping\r\nAction: Hangup")
    with pytest.raises(AmiInjectionError):
        encode_action("Ping", action_id="a\r\nAction: Hangup")
    with pytest.raises(AmiEncodeError):
        encode_action("Ping", {"Action": "Hangup"})


def test_line_asterisk_would_refuse_as_too_long_is_refused() -> None:
    with pytest.raises(AmiLineTooLong):
        encode_action("Ping", {"X-Padding": "A" * 2000})


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=60))
def test_any_accepted_value_round_trips_and_never_adds_a_line(value: str) -> None:
    try:
        raw = encode_action("UserEvent", {"UserEvent": "T", "Data": value})
    except AmiInjectionError:
        assert any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
        return
    (msg,), _ = parse(raw)
    assert msg.get_all("Data") == [value]
    assert raw.count(b"\r\n") == 4


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
)
def test_arbitrary_bytes_never_raise_and_errors_stay_bounded(data: bytes, cuts: list[int]) -> None:
    parser = AmiParser(max_line=128, max_errors=5)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        for msg in parser.feed(data[a:b]):
            assert msg.kind in ("event", "response", "action", "banner", "text", "other")
    assert len(parser.errors) <= 5
    # Whatever state the garbage left (mid-line, oversized line, legacy Follows body), this
    # ends it, and the next message parses cleanly.
    tail = parser.feed(b"\r\n--END COMMAND--\r\n\r\nEvent: Next\r\n\r\n")
    assert tail and tail[-1].headers == (("Event", "Next"),)
