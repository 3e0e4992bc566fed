"""Asterisk simulator behaviour beyond the replayed transcripts (hostile input 11, shutdown
12, channel cap 17, AMD 18, filters, redirect, fault injection, scale)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from engine.dialer.ami_client import AmiActionError, AmiClient, AmiConfig, AmiConnectionLost
from engine.dialer.ami_protocol import AmiMessage, AmiParser
from engine.sim.asterisk import AsteriskSim, Outcome, SimCall, SimConfig
from engine.sim.asterisk_events import frame
from tests.ami_support import TRANSCRIPTS, transcript

pytestmark = pytest.mark.integration


def config(**kw: object) -> SimConfig:
    base: dict[str, object] = {
        "time_scale": 0.01,
        "bad_login_delay_s": 0.05,
        "ring_time_s": (1.0, 1.0),
        "hold_time_s": (2.0, 0.0),
    }
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(cfg: SimConfig) -> AsyncIterator[tuple[AsteriskSim, AmiClient]]:
    async with AsteriskSim(cfg) as sim:
        client = AmiClient(AmiConfig(port=sim.port, ping_interval=60))
        await client.connect()
        try:
            yield sim, client
        finally:
            await client.stop()


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


class Raw:
    """A bare AMI socket for input no well-behaved client would send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.parser = reader, writer, AmiParser()
        self.pending: list[AmiMessage] = []

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def close(self) -> None:
        self.writer.close()

    async def next(self, timeout: float = 5.0) -> AmiMessage | None:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    async def ask(self, raw: bytes) -> AmiMessage | None:
        self.writer.write(raw)
        while (msg := await self.next()) is not None and msg.kind != "response":
            pass
        return msg


@pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts missing")
async def test_hostile_input_is_answered_like_transcript_11() -> None:
    """Send transcript 11's own hostile actions; compare with what Asterisk answered."""
    t = transcript("11")
    sent = {tm.message.action_id: tm.message for tm in t.messages("AMI>")}
    recorded = {
        m.message.action_id: m.message for m in t.messages("AMI<") if m.message.kind == "response"
    }
    before_login = ["ping-1", "coreshowchannels-2"]
    after_login = [
        "nosuchaction-2",
        "no-action-1",
        "originate-3",
        "long-header",
        "long-action",
        "after-long",
    ]
    answers: dict[str, AmiMessage] = {}
    async with AsteriskSim(config()) as sim:
        raw = await Raw.open(sim.port)
        assert (await raw.next()).kind == "banner"  # type: ignore[union-attr]
        for aid in [*before_login, "login-3"]:
            answers[aid] = await raw.ask(frame(sent[aid].headers))  # type: ignore[assignment]
        assert await raw.next() is None, "the server closes after a bad login"
        raw.close()

        raw = await Raw.open(sim.port)
        await raw.ask(b"Action: Login\r\nUsername: engine\r\nSecret: engine-secret\r\n\r\n")
        for aid in after_login:
            answers[aid] = await raw.ask(frame(sent[aid].headers))  # type: ignore[assignment]
        raw.close()
    for aid in [*before_login, "login-3", *after_login]:
        got, want = answers[aid], recorded[aid]
        assert (got.action_id, got.response, got.get("Message"), got.get("Ping")) == (
            want.action_id,
            want.response,
            want.get("Message"),
            want.get("Ping"),
        ), aid


async def test_unknown_endpoint_fails_at_once_without_channel_events() -> None:
    async with running(config()) as (_sim, client):
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        await client.originate("PJSIP/1000@no-such-endpoint", channel_id="u1", context="c")
        await until(lambda: events)
        await asyncio.sleep(0.05)
    assert [(e.event, e["Response"], e["Reason"], e["Channel"]) for e in events] == [
        ("OriginateResponse", "Failure", "0", "PJSIP/1000@no-such-endpoint")
    ]


async def test_hangup_of_a_ringing_call_sends_the_cause_and_noanswer() -> None:
    cfg = config(numbers={"1900": Outcome("noanswer")})
    async with running(cfg) as (_sim, client):
        events: list[AmiMessage] = []
        await client.originate(
            "PJSIP/1900@trunk", channel_id="r1", context="outbound-msg", on_event=events.append
        )
        await until(lambda: any(e.event == "DialState" for e in events))
        name = next(e["Channel"] for e in events if e.event == "Newchannel")
        assert (await client.hangup(name, cause=21))["Message"] == "Channel Hungup"
        await until(lambda: any(e.event == "Hangup" for e in events))
        with pytest.raises(AmiActionError, match="No such channel"):
            await client.hangup(name)
    by_name = {e.event: e for e in events}
    assert by_name["OriginateResponse"]["Reason"] == "0"
    assert by_name["OriginateResponse"]["Channel"] == "PJSIP/1900@trunk"
    assert by_name["DialEnd"]["DialStatus"] == "NOANSWER"
    assert by_name["Hangup"]["Cause"] == "21"


async def test_redirect_to_queue_unknown_channel_and_unknown_target() -> None:
    cfg = config(numbers={"2000": Outcome("answer", ring_s=0.5, hold_s=100.0)}, agent_ring_s=1.0)
    async with running(cfg) as (_sim, client):
        events: list[AmiMessage] = []
        await client.originate(
            "PJSIP/2000@trunk", channel_id="q1", context="outbound-msg", on_event=events.append
        )
        await until(lambda: any(e.event == "OriginateResponse" for e in events))
        name = next(e["Channel"] for e in events if e.event == "Newchannel")
        assert (await client.redirect(name, "to-queue", "s"))["Message"] == "Redirect successful"
        await until(lambda: any(e.event == "AgentConnect" for e in events))
        with pytest.raises(AmiActionError, match="Channel does not exist: PJSIP/trunk-99999999"):
            await client.redirect("PJSIP/trunk-99999999", "to-queue", "s")

        lost: list[AmiMessage] = []
        await client.originate(
            "PJSIP/2000@trunk", channel_id="q2", context="outbound-msg", on_event=lost.append
        )
        await until(lambda: any(e.event == "OriginateResponse" for e in lost))
        name2 = next(e["Channel"] for e in lost if e.event == "Newchannel")
        await client.redirect(name2, "to-queue", "nosuch")
        await until(lambda: any(e.event == "Hangup" for e in lost))
    assert [e.event for e in events if e.event.startswith(("Queue", "Agent"))] == [
        "QueueCallerJoin",
        "AgentCalled",
        "QueueCallerLeave",
        "AgentConnect",
    ]
    assert next(e for e in lost if e.event == "Hangup")["Cause"] == "0"


async def test_core_show_channels_lists_live_calls_by_channel_id() -> None:
    cfg = config(hold_time_s=(100.0, 0.0))
    async with running(cfg) as (sim, client):
        for i in range(3):
            await client.originate(f"PJSIP/10{i}@trunk", channel_id=f"c{i}", context="outbound-msg")
        await until(lambda: sum(c.state == "up" for c in sim.live_calls()) == 3)
        channels = await client.core_show_channels()
    assert sorted(c["Uniqueid"] for c in channels) == ["c0", "c1", "c2"]
    assert {c["Application"] for c in channels} == {"Playback"}


async def test_channel_cap_refuses_like_transcript_17() -> None:
    cfg = config(max_channels=2, hold_time_s=(100.0, 0.0))
    async with running(cfg) as (_sim, client):
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        for i in range(4):
            await client.originate(
                f"PJSIP/171{i}@trunk", channel_id=f"k{i}", context="outbound-msg"
            )
        await until(lambda: sum(e.event == "OriginateResponse" for e in events) == 4)
        await asyncio.sleep(0.02)
    refused = {e["Uniqueid"] for e in events if e.event == "UserEvent"}
    assert len(refused) == 2
    capped = next(e for e in events if e.event == "UserEvent")
    assert (capped["UserEvent"], capped["Max"]) == ("OutboundCapped", "2")
    for cid in refused:
        mine = {e.event: e for e in events if cid in (e.get("Uniqueid"), e.get("DestUniqueid"))}
        assert mine["OriginateResponse"]["Reason"] == "0"
        assert mine["DialEnd"]["DialStatus"] == "CONGESTION"
        assert mine["Hangup"]["Cause"] == "34"


@pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts missing")
async def test_amd_result_event_has_the_recorded_headers() -> None:
    recorded = next(
        tm.message for tm in transcript("18").messages("AMI<") if tm.message.event == "UserEvent"
    )
    cfg = config(numbers={"1810": Outcome("answer", ring_s=1.0, hold_s=2.0, amd="MACHINE")})
    async with running(cfg) as (_sim, client):
        events: list[AmiMessage] = []
        await client.originate(
            "PJSIP/1810@trunk",
            channel_id="amd1",
            context="outbound-amd",
            variables={"CAMPAIGN_ID": "c-18b"},
            on_event=events.append,
        )
        await until(lambda: any(e.event == "Hangup" for e in events))
    amd = next(e for e in events if e.event == "UserEvent")
    assert (amd["AMDStatus"], amd["AMDCause"], amd["CampaignId"]) == (
        "MACHINE",
        "LONGGREETING-1500-1500",
        "c-18b",
    )
    assert [k for k, _ in amd.headers] == [k for k, _ in recorded.headers]


async def test_filter_limits_events_but_not_responses() -> None:
    async with AsteriskSim(config()) as sim:
        client = AmiClient(AmiConfig(port=sim.port, event_filters=["^(OriginateResponse|Hangup)$"]))
        await client.connect()
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        await client.originate("PJSIP/1000@trunk", channel_id="f1", context="outbound-msg")
        await until(lambda: any(e.event == "Hangup" for e in events))
        assert (await client.ping())["Ping"] == "Pong"
        await client.stop()
    assert [e.event for e in events] == ["OriginateResponse", "Hangup"]


async def test_dtmf_and_on_answer_hook() -> None:
    seen: list[str] = []

    async def on_answer(call: SimCall) -> None:
        seen.append(call.channel_id)
        sim.press(call.channel_id, "2")
        await asyncio.sleep(0.05)

    sim = AsteriskSim(config(on_answer=on_answer))
    async with sim:
        client = AmiClient(AmiConfig(port=sim.port))
        await client.connect()
        events: list[AmiMessage] = []
        await client.originate(
            "PJSIP/1500@trunk", channel_id="d1", context="bnet-outbound", on_event=events.append
        )
        await until(lambda: any(e.event == "Hangup" for e in events))
        await client.stop()
    assert seen == ["d1"]
    dtmf = [(e.event, e["Digit"]) for e in events if e.event.startswith("DTMF")]
    assert dtmf == [("DTMFBegin", "2"), ("DTMFEnd", "2")]
    assert next(e for e in events if e.event == "Hangup")["Cause"] == "16"


async def test_lost_response_call_still_happens_and_is_counted_once() -> None:
    cfg = config(drop_after_originates=2, hold_time_s=(100.0, 0.0))
    async with AsteriskSim(cfg) as sim:
        client = AmiClient(AmiConfig(port=sim.port, backoff_initial=0.01, ping_interval=60))
        await client.start()
        await client.wait_connected(5)
        await client.originate("PJSIP/1001@trunk", channel_id="l1", context="outbound-msg")
        with pytest.raises(AmiConnectionLost):
            await client.originate("PJSIP/1002@trunk", channel_id="l2", context="outbound-msg")
        await until(lambda: client.state == "connected" and client.reconnects == 1)
        channels = await client.core_show_channels()
        await client.stop()
    assert {c["Uniqueid"] for c in channels} == {"l1", "l2"}, "the call of the lost response is up"
    assert [r.channel_id for r in sim.originates] == ["l1", "l2"]
    assert sim.duplicates() == {}


async def test_graceful_shutdown_like_transcript_12() -> None:
    cfg = config(numbers={"1": Outcome("answer", ring_s=0.5, hold_s=20.0)})
    async with AsteriskSim(cfg) as sim:
        client = AmiClient(AmiConfig(port=sim.port))
        await client.connect()
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        await client.originate("PJSIP/1@trunk", channel_id="s1", context="outbound-msg")
        await until(lambda: sim.live_calls() and sim.live_calls()[0].state == "up")
        stopping = asyncio.create_task(sim.shutdown())
        await asyncio.sleep(0.02)
        refused = await Raw.open(sim.port)
        answer = await refused.ask(
            b"Action: Login\r\nUsername: engine\r\nSecret: engine-secret\r\n\r\n"
        )
        assert answer is not None and answer["Message"] == "Asterisk is shutting down"
        refused.close()
        with pytest.raises(AmiActionError, match="shutting down"):
            await client.originate("PJSIP/2@trunk", context="outbound-msg")
        await stopping
        await until(lambda: client.state != "connected")
    names = [e.event for e in events]
    assert names.index("Hangup") < names.index("Shutdown") == len(names) - 1


async def test_two_thousand_concurrent_calls() -> None:
    cfg = config(hold_time_s=(6000.0, 0.0), ring_time_s=(0.1, 0.2))
    async with AsteriskSim(cfg) as sim:
        client = AmiClient(AmiConfig(port=sim.port, event_filters=["^(OriginateResponse|Hangup)$"]))
        await client.connect()
        answered: list[str] = []
        client.subscribe(
            lambda e: answered.append(e["Uniqueid"]) if e.get("Reason") == "4" else None
        )
        for start in range(0, 2000, 250):
            await asyncio.gather(
                *[
                    client.originate(
                        f"PJSIP/06{i:08d}@trunk", channel_id=f"m{i}", context="bnet-outbound"
                    )
                    for i in range(start, start + 250)
                ]
            )
        await until(lambda: len(answered) == 2000, timeout=30)
        live = await client.core_show_channels()
        await client.stop()
    assert len(live) == 2000
    assert sim.duplicates() == {}


async def test_random_outcomes_are_reproducible_with_a_seed() -> None:
    weights = {"answer": 0.6, "busy": 0.2, "noanswer": 0.2}

    async def outcomes(seed: int) -> list[str]:
        async with running(config(weights=weights, seed=seed)) as (sim, client):
            for i in range(30):
                await client.originate(f"PJSIP/5{i}@trunk", channel_id=f"x{i}", context="c")
            return [r.outcome for r in sim.originates]

    first, again = await outcomes(7), await outcomes(7)
    assert first == again and set(first) == set(weights)


async def test_standalone_command_line_answers_ping() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.sim.asterisk",
        "--port",
        str(port),
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f":{port}".encode() in line
        client = AmiClient(AmiConfig(port=port))
        await client.connect()
        assert (await client.ping())["Ping"] == "Pong"
        await client.stop()
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts missing")
async def test_reload_answers_like_transcript_12() -> None:
    t = transcript("12")
    sent = [tm.message for tm in t.messages("AMI>") if tm.message.name in ("Command", "Reload")]
    recorded = [tm.message for tm in t.messages("AMI<")]
    async with running(config()) as (_sim, client):
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        for action in sent:
            headers = [(k, v) for k, v in action.headers if k not in ("Action", "ActionID")]
            (answer,) = await client.send_action(action["Action"], headers)
            want = next(m for m in recorded if m.action_id == action.action_id)
            assert (answer.response, answer.get("Message")) == (want.response, want["Message"])
        await until(lambda: len(events) == 2)
    reloads = [m for m in recorded if m.event == "Reload"]
    assert [e.headers for e in events] == [m.headers for m in reloads]


@pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts missing")
async def test_fastagi_hook_talks_like_transcript_15() -> None:
    from engine.sim.asterisk_agi import fastagi_on_answer

    t = transcript("15")
    agi_in = [e.text for e in t.entries if e.tag == "AGI<"]
    env_keys = [line.split(":")[0] for line in agi_in[: agi_in.index("")]]
    commands = [
        "GET VARIABLE CAMPAIGN_ID",
        "GET DATA burgernet-menu 5000 1",
        'SET VARIABLE MENU_CHOICE "2"',
    ]
    sessions: list[tuple[list[str], list[str]]] = []

    async def menu(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: list[str] = []
        while (line := (await reader.readline()).decode().rstrip("\n")) != "":
            env.append(line)
        replies = []
        for command in commands:
            writer.write(command.encode() + b"\n")
            replies.append((await reader.readline()).decode().rstrip("\n"))
        sessions.append((env, replies))
        writer.close()

    server = await asyncio.start_server(menu, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = config(
        on_answer=fastagi_on_answer("127.0.0.1", port, "menu"),
        numbers={"1500": Outcome("answer", ring_s=1.0, dtmf="2"), "1510": Outcome("answer")},
    )
    async with running(cfg) as (_sim, client):
        events: list[AmiMessage] = []
        client.subscribe(events.append)
        for number, cid in (("1500", "agi-1"), ("1510", "agi-2")):
            await client.originate(
                f"PJSIP/{number}@trunk",
                channel_id=cid,
                context="outbound-menu",
                caller_id='"Engine" <4930123456>',
                variables={"CAMPAIGN_ID": "c-15a"},
            )
            await until(
                lambda cid=cid: any(e.event == "Hangup" and e["Uniqueid"] == cid for e in events)
            )
    server.close()
    await server.wait_closed()
    (env, pressed), (_, silent) = sessions
    assert [line.split(":")[0] for line in env] == env_keys
    assert "agi_uniqueid: agi-1" in env and "agi_context: outbound-menu" in env
    assert pressed == ["200 result=1 (c-15a)", "200 result=2", "200 result=1"]
    assert silent[1] == "200 result= (timeout)"
    assert [e.event for e in events if e.event.startswith("DTMF")] == ["DTMFBegin", "DTMFEnd"]
    assert any(e.get("Variable") == "MENU_CHOICE" and e["Value"] == "2" for e in events)


async def test_hangup_by_regex_lists_and_ends_every_match() -> None:
    cfg = config(hold_time_s=(100.0, 0.0))
    async with running(cfg) as (sim, client):
        for i in range(3):
            await client.originate(f"PJSIP/10{i}@trunk", channel_id=f"h{i}", context="outbound-msg")
        await until(lambda: sum(c.state == "up" for c in sim.live_calls()) == 3)
        items = await client.send_action(
            "Hangup", {"Channel": "/^PJSIP\\/trunk-.*$/", "Cause": "16"}, list_action=True
        )
        await until(lambda: not sim.live_calls())
    assert items[0]["Message"] == "Channels hung up will follow"
    assert [m.event for m in items[1:]] == ["ChannelHungup"] * 3 + ["ChannelsHungupListComplete"]
