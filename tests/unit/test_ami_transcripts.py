"""The recorded Asterisk 22 transcripts parse back into the messages the facts describe."""

from __future__ import annotations

import pytest

from engine.dialer.ami_protocol import AmiMessage
from engine.dialer.transcripts import load_transcript, unescape
from tests.ami_support import TRANSCRIPTS, transcript, transcript_paths

pytestmark = pytest.mark.skipif(
    not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts is not present"
)


def received(prefix: str, tag: str = "AMI<") -> list[AmiMessage]:
    return [tm.message for tm in transcript(prefix).messages(tag)]


def sent(prefix: str, tag: str = "AMI>") -> list[AmiMessage]:
    return [tm.message for tm in transcript(prefix).messages(tag)]


def outcome(prefix: str, channel_id: str) -> dict[str, str | None]:
    """Reason / Cause / DialStatus of the originate whose ChannelId is ``channel_id``."""
    msgs = received(prefix)
    orig = [m for m in msgs if m.event == "OriginateResponse" and m["Uniqueid"] == channel_id]
    hang = [m for m in msgs if m.event == "Hangup" and m["Uniqueid"] == channel_id]
    dial = [m for m in msgs if m.event == "DialEnd" and m.get("DestUniqueid") == channel_id]
    return {
        "response": orig[0]["Response"] if orig else None,
        "reason": orig[0]["Reason"] if orig else None,
        "cause": hang[0]["Cause"] if hang else None,
        "dialstatus": dial[0]["DialStatus"] if dial else None,
    }


def originate_ids(prefix: str) -> list[str]:
    return [m["ChannelId"] for m in sent(prefix) if m.name == "Originate"]


@pytest.mark.parametrize("path", transcript_paths(), ids=lambda p: p.name[:2])
def test_every_ami_stream_parses_without_errors(path: object) -> None:
    t = load_transcript(path)  # type: ignore[arg-type]
    for tag in t.tags():
        if not tag.startswith("AM"):
            continue
        messages = [tm.message for tm in t.messages(tag)]
        assert messages, tag
        if tag.endswith(">"):
            assert all(m.kind in ("action", "other") for m in messages)
        else:
            assert messages[0].kind == "banner"
            assert all(m.kind in ("banner", "event", "response") for m in messages)


@pytest.mark.parametrize(
    ("prefix", "reason", "cause", "dialstatus"),
    [
        ("01", "4", "16", "ANSWER"),
        ("02", "0", "17", "BUSY"),
        ("03", "3", "19", None),
        ("04", "0", "1", "NOANSWER"),
        ("05", "0", "34", "CONGESTION"),
    ],
)
def test_outcome_table_of_fact_2(
    prefix: str, reason: str, cause: str, dialstatus: str | None
) -> None:
    (channel_id,) = originate_ids(prefix)
    got = outcome(prefix, channel_id)
    assert got["reason"] == reason
    assert got["cause"] == cause
    assert got["dialstatus"] == dialstatus
    assert got["response"] == ("Success" if reason == "4" else "Failure")


def test_originate_is_acknowledged_at_once_with_the_same_action_id() -> None:
    msgs = received("01")
    ack = next(m for m in msgs if m.action_id == "originate-2" and m.kind == "response")
    assert ack["Message"] == "Originate successfully queued"
    orig = next(m for m in msgs if m.event == "OriginateResponse")
    assert orig.action_id == "originate-2"
    assert orig["Channel"] == "PJSIP/trunk-00000000"


def test_answered_event_flow_and_repeated_variables_of_transcript_01() -> None:
    (channel_id,) = originate_ids("01")
    events = [m.event for m in received("01") if m.get("Uniqueid") == channel_id]
    assert events[0] == "Newchannel" and events[-1] == "Hangup"
    assert events.index("OriginateResponse") < events.index("SoftHangupRequest")
    originate = next(m for m in sent("01") if m.name == "Originate")
    assert originate.get_all("Variable") == ["MSG_FILE=it-tone-2s", "CAMPAIGN_ID=c-01"]
    assert originate["CallerID"] == '"Engine" <4930123456>'


def test_unreachable_and_unknown_endpoint_of_transcript_06() -> None:
    timeout30, timeout60, unknown = originate_ids("06")
    assert outcome("06", timeout30) == {
        "response": "Failure",
        "reason": "3",
        "cause": "19",
        "dialstatus": None,
    }
    assert outcome("06", timeout60)["cause"] == "18"
    assert outcome("06", timeout60)["dialstatus"] == "NOANSWER"
    assert outcome("06", unknown) == {
        "response": "Failure",
        "reason": "0",
        "cause": None,
        "dialstatus": None,
    }
    channel_events = [
        m
        for m in received("06")
        if unknown in (m.get("Uniqueid"), m.get("DestUniqueid")) and m.event != "OriginateResponse"
    ]
    assert channel_events == []


def test_local_channel_busy_of_transcript_07() -> None:
    _, busy = originate_ids("07")
    assert outcome("07", busy)["cause"] == "17"
    assert outcome("07", busy)["reason"] == "0"


def test_hangup_cause_is_what_was_sent_of_transcript_19() -> None:
    hangups = [m for m in sent("19") if m.name == "Hangup"]
    ids = originate_ids("19")
    causes = [outcome("19", cid)["cause"] for cid in ids]
    assert [h.get("Cause") for h in hangups] == [None, "16", "21", None, "21"]
    assert causes == ["0", "16", "21", "0", "21"]
    assert [outcome("19", cid)["dialstatus"] for cid in ids[:3]] == ["NOANSWER"] * 3


def test_hostile_input_answers_of_transcript_11() -> None:
    msgs = received("11")
    answers = {m.action_id: m.get("Message") for m in msgs if m.kind == "response"}
    assert answers["ping-1"] == "Permission denied"
    assert answers["login-3"] == "Authentication failed"
    assert answers["nosuchaction-2"].startswith("Invalid/unknown command: NoSuchAction.")
    assert answers["no-action-1"] == "Missing action in request"
    assert answers["originate-3"] == "Channel not specified"
    assert answers["long-header"] == "Failed to parse message: line too long"
    assert answers["long-action"] == "Failed to parse message: line too long"
    smuggled = next(m for m in msgs if m.action_id == "smuggled-ping")
    assert smuggled["Ping"] == "Pong", "fact 9: Asterisk ran the action smuggled in a value"
    assert transcript("11").eof("AMI<")


def test_bare_lf_and_cr_are_reconstructed_from_the_transcript_markup() -> None:
    stream = transcript("11").stream("AMI>")
    assert b"Variable: FOO=bar\nVariable: INJECTED2=yes\r\n" in stream
    assert b"Variable: FOO=bar\rVariable: SMUGGLED=yes\r\n" in stream
    assert unescape("a\\x1bb\\tc") == b"a\x1bb\tc"


def test_coreshowchannels_event_list_of_transcript_13() -> None:
    msgs = received("13")
    listed = [m for m in msgs if m.action_id == "coreshowchannels-3"]
    assert listed[0]["EventList"] == "start"
    assert listed[-1].event == "CoreShowChannelsComplete"
    channels = [m for m in listed if m.event == "CoreShowChannel"]
    assert int(listed[-1]["ListItems"]) == len(channels) >= 1
    (channel_id,) = [m["ChannelId"] for m in sent("13") if m.name == "Originate"]
    assert any(c["Uniqueid"] == channel_id for c in channels)


def test_channel_limit_refusal_of_transcript_17() -> None:
    msgs = received("17")
    capped = [m for m in msgs if m.event == "UserEvent" and m["UserEvent"] == "OutboundCapped"]
    assert len(capped) == 2
    for user in capped:
        channel_id = user["Linkedid"]
        got = outcome("17", channel_id)
        assert got == {
            "response": "Failure",
            "reason": "0",
            "cause": "34",
            "dialstatus": "CONGESTION",
        }


def test_filter_action_is_accepted_in_transcript_17() -> None:
    sent_filter = next(m for m in sent("17", "AMF>") if m.name == "Filter")
    answer = next(m for m in received("17", "AMF<") if m.action_id == sent_filter.action_id)
    assert answer["Response"] == "Success"


def test_shutdown_event_then_eof_of_transcript_12() -> None:
    msgs = received("12")
    shutdown = next(m for m in msgs if m.event == "Shutdown")
    assert shutdown["Shutdown"] == "Cleanly" and shutdown["Restart"] == "False"
    assert msgs[-1].event == "Shutdown"
    assert transcript("12").eof("AMI<") and transcript("12").eof("AMC<")


def test_redirect_answers_of_transcript_20() -> None:
    answers = {m.action_id: m.get("Message") for m in received("20") if m.kind == "response"}
    assert answers["redirect-3"] == "Redirect successful"
    assert answers["redirect-5"] == "Channel does not exist: PJSIP/trunk-99999999"


def test_amd_results_of_transcript_18() -> None:
    results = [
        (m["AMDStatus"], m["AMDCause"])
        for m in received("18")
        if m.event == "UserEvent" and m["UserEvent"] == "AMDResult"
    ]
    assert results == [
        ("HUMAN", "HUMAN-800-800"),
        ("MACHINE", "LONGGREETING-1500-1500"),
        ("NOTSURE", "TOOLONG-4900"),
    ]


def test_dtmf_digits_of_transcript_15() -> None:
    digits = [m["Digit"] for m in received("15") if m.event == "DTMFEnd"]
    assert digits == ["2", "2", "2"]


def test_burst_of_transcript_10_answers_every_originate() -> None:
    ids = originate_ids("10")
    assert len(ids) == 100
    reasons = {m["Uniqueid"]: m["Reason"] for m in received("10") if m.event == "OriginateResponse"}
    assert all(reasons[cid] == "4" for cid in ids)
