"""AMI client against a fake AMI server: no replay after reconnect (unlike panoramisk)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from engine.dialer.ami_client import (
    AmiActionError,
    AmiClient,
    AmiConfig,
    AmiConnectionLost,
    AmiLoginError,
    mask_numbers,
)
from engine.dialer.ami_protocol import AmiInjectionError, AmiMessage
from tests.ami_support import FakeAmi

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


def config(port: int, **kw: object) -> AmiConfig:
    base: dict[str, object] = {
        "port": port,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "ping_interval": 60.0,
    }
    base.update(kw)
    return AmiConfig(**base)  # type: ignore[arg-type]


async def until(predicate: object, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


async def test_panoramisk_replays_originate_after_reconnect(fake: FakeAmi) -> None:
    """The bug this client exists for: panoramisk sends a lost Originate a second time."""
    from panoramisk import Manager

    fake.drop_on_originate = 1
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=fake.port,
        username="engine",
        secret="engine-secret",
        reconnect_timeout=0,
        ping_delay=60,
        log=logging.getLogger("panoramisk-test"),
    )
    await manager.connect()
    await until(lambda: manager.authenticated)
    future = manager.send_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/1000@trunk",
            "Async": "true",
            "ChannelId": "dup-1",
            "Context": "bnet-outbound",
            "Exten": "s",
            "Priority": "1",
        }
    )
    await until(lambda: future.done(), timeout=10)
    manager.close()
    channel_ids = [m["ChannelId"] for m in fake.originates()]
    assert channel_ids == ["dup-1", "dup-1"], "panoramisk dialled the same call twice"
    assert fake.connections == 2


async def test_our_client_never_resends_a_lost_originate(fake: FakeAmi) -> None:
    fake.drop_on_originate = 1
    client = AmiClient(config(fake.port))
    await client.start()
    await client.wait_connected(5)
    with pytest.raises(AmiConnectionLost):
        await client.originate("PJSIP/1000@trunk", channel_id="once-1", context="bnet-outbound")
    await until(lambda: fake.connections == 2 and client.state == "connected")
    await asyncio.sleep(0.1)  # a replaying client would have resent by now
    assert [m["ChannelId"] for m in fake.originates()] == ["once-1"]
    ack = await client.originate("PJSIP/1001@trunk", channel_id="two-1", context="c")
    assert ack.channel_id == "two-1"
    assert [m["ChannelId"] for m in fake.originates()] == ["once-1", "two-1"]
    await client.stop()


async def test_originate_is_async_with_channel_id_and_routes_events(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port))
    await client.connect()
    events: list[AmiMessage] = []
    ack = await client.originate(
        "PJSIP/0612345678@trunk",
        channel_id="cid-1",
        context="bnet-outbound",
        variables={"MSG_FILE": "/tmp/m", "ATTEMPT": "a1"},
        caller_id='"Burgernet" <08000011>',
        timeout_ms=25000,
        on_event=events.append,
    )
    await until(lambda: events)
    (sent,) = fake.originates()
    assert sent["Async"] == "true" and sent["ChannelId"] == "cid-1"
    assert sent["Timeout"] == "25000" and sent.get_all("Variable") == [
        "MSG_FILE=/tmp/m",
        "ATTEMPT=a1",
    ]
    assert events[0].event == "OriginateResponse" and events[0]["Reason"] == "4"
    assert events[0].action_id == ack.action_id
    await client.stop()


async def test_values_with_crlf_never_reach_the_socket(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port))
    await client.connect()
    with pytest.raises(AmiInjectionError):
        await client.originate(
            "PJSIP/1@trunk", context="c", variables={"SIGNALEMENT": "man\r\n\r\nAction: Ping"}
        )
    assert fake.originates() == []
    await client.ping()
    assert [m.name for m in fake.received] == ["Login", "Ping"]
    await client.stop()


async def test_bad_login_is_a_clear_error(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port, secret="wrong"))
    with pytest.raises(AmiLoginError, match="Authentication failed"):
        await client.connect()
    assert client.state == "disconnected"


async def test_hangup_always_sends_a_cause_and_errors_raise(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port))
    await client.connect()
    await client.hangup("PJSIP/trunk-00000001")
    assert fake.received[-1]["Cause"] == "16"
    with pytest.raises(AmiActionError, match="No such channel"):
        await client.hangup("PJSIP/nope", cause=21)
    await client.redirect("PJSIP/trunk-00000001", "to-queue", "s")
    assert fake.received[-1]["Context"] == "to-queue"
    await client.stop()


async def test_core_show_channels_collects_the_event_list(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port))
    await client.connect()
    channels = await client.core_show_channels()
    assert [c["Uniqueid"] for c in channels] == ["u-1"]
    await client.stop()


async def test_filter_is_applied_after_every_login(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port, event_filters=["^(OriginateResponse|Hangup)$"]))
    await client.start()
    await client.wait_connected(5)
    fake.drop_all()
    await until(lambda: fake.connections == 2 and client.state == "connected")
    filters = [m for m in fake.received if m.name == "Filter"]
    assert len(filters) == 2
    assert filters[0]["Filter"] == "^(OriginateResponse|Hangup)$"
    assert filters[0]["Operation"] == "Add"
    await client.stop()


async def test_lying_peer_and_garbage_do_not_crash(fake: FakeAmi) -> None:
    client = AmiClient(config(fake.port))
    await client.connect()
    seen: list[AmiMessage] = []
    client.subscribe(seen.append)
    fake.inject(
        b"Response: Success\r\nActionID: not-mine\r\n\r\n"
        b"!!garbage\x01\r\n\r\n"
        b"Event: SomethingNew\r\nFoo: bar\r\n\r\n"
        b"just text\r\n\r\n"
    )
    await until(lambda: seen)
    assert seen[0].event == "SomethingNew"
    assert (await client.ping())["Ping"] == "Pong"
    await client.stop()


async def test_pong_watchdog_declares_a_silent_peer_dead_and_reconnects(fake: FakeAmi) -> None:
    changes: list[str] = []
    client = AmiClient(
        config(fake.port, ping_interval=0.05, pong_timeout=0.1),
        on_connected=lambda c: changes.append("up"),
        on_disconnected=lambda c, reason: changes.append(reason),
    )
    fake.answer_ping = False
    await client.start()
    await until(lambda: "no pong" in changes)
    fake.answer_ping = True
    await until(lambda: changes.count("up") >= 2 and client.state == "connected")
    assert client.reconnects >= 1
    await client.stop()


async def test_actions_fail_at_once_when_not_connected() -> None:
    client = AmiClient(AmiConfig(port=1))
    with pytest.raises(AmiConnectionLost):
        await client.originate("PJSIP/1@trunk", context="c")


async def test_reconnect_backoff_grows_and_is_jittered() -> None:
    client = AmiClient(AmiConfig(backoff_initial=1.0, backoff_max=8.0, backoff_jitter=0.25))
    delays = [client.backoff_delay(n) for n in range(6)]
    assert 0.75 <= delays[0] <= 1.25
    assert 6.0 <= delays[5] <= 10.0
    assert delays[3] > delays[0]


def test_numbers_are_masked_in_logs() -> None:
    assert mask_numbers("PJSIP/+31612345678@trunk") == "PJSIP/+3161****678@trunk"
