"""The FastAGI server over TCP: the fail-safe route to the queue comes first."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from engine.ivr.channel import AgiChannel, AgiTimeout
from engine.ivr.server import Route, route_to_queue
from tests.ivr_support import (
    PeerScript,
    env_block,
    inbound_env,
    run_peer,
    serving,
    set_variables,
)

pytestmark = pytest.mark.integration


async def _broken(channel: AgiChannel) -> None:
    await channel.command("VERBOSE", "about to fail", 1)
    raise RuntimeError("database is gone")


async def _stuck(channel: AgiChannel) -> None:
    await asyncio.sleep(30)


async def _asks(channel: AgiChannel) -> None:
    await channel.command("GET DATA", "bnet/menu", 5000, 1)


def _queue_route(handler: object, deadline: float = 5.0) -> dict[str, Route]:
    return {"callback": Route(handler=handler, fallback=route_to_queue, deadline=deadline)}  # type: ignore[arg-type]


async def test_handler_error_still_routes_caller_to_queue() -> None:
    async with serving(_queue_route(_broken)) as server:
        peer = await run_peer(server.port, PeerScript(inbound_env("0612345678")))
    assert set_variables(peer.commands)["BNET_ROUTE"] == "queue"
    assert set_variables(peer.commands)["QUEUE_PRIO"] == "5"
    assert server.stats.fallbacks == 1


async def test_stuck_handler_is_cut_off_and_queued() -> None:
    async with serving(_queue_route(_stuck, deadline=0.3)) as server:
        peer = await run_peer(server.port, PeerScript(inbound_env("0612345678")))
    assert set_variables(peer.commands)["BNET_ROUTE"] == "queue"


async def test_silent_asterisk_command_timeout_ends_agi_so_dialplan_continues() -> None:
    script = PeerScript(inbound_env("0612345678"), silent_on="GET DATA")
    async with serving(_queue_route(_asks), command_timeout=0.2) as server:
        # returns only because the server closed the socket (AGI() returns -> Queue())
        peer = await run_peer(server.port, script, limit_s=10)
    assert peer.commands[0].startswith("GET DATA")
    assert server.stats.fallbacks == 1


async def test_caller_hangup_is_a_normal_end_not_a_fallback() -> None:
    async def waits_then_checks(channel: AgiChannel) -> None:
        await channel.command("GET DATA", "it-beep", 15000, 1)
        await channel.command("CHANNEL STATUS")  # 511 -> AgiHangup (transcript 14)

    script = PeerScript(inbound_env("0612345678"), hangup_on="GET DATA")
    async with serving(_queue_route(waits_then_checks)) as server:
        peer = await run_peer(server.port, script)
    assert server.stats.hangups == 1 and server.stats.fallbacks == 0
    assert not any(c.startswith("SET VARIABLE") for c in peer.commands)


async def test_unknown_script_and_garbage_environment_are_closed_at_once() -> None:
    env = inbound_env("0612345678") | {"agi_network_script": "nosuch"}
    async with serving(_queue_route(_broken)) as server:
        peer = await run_peer(server.port, PeerScript(env))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"this is not agi\n\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing sent
        writer.close()
    assert peer.commands == []
    assert server.stats.unknown_script == 1


async def test_many_calls_at_once_are_served_independently() -> None:
    async def sets(channel: AgiChannel) -> None:
        await channel.command("SET VARIABLE", "WHO", channel.env.uniqueid)

    async with serving(_queue_route(sets)) as server:
        peers = await asyncio.gather(
            *(
                run_peer(server.port, PeerScript(inbound_env("0612345678", f"1795.{i}")))
                for i in range(50)
            )
        )
    assert [set_variables(p.commands)["WHO"] for p in peers] == [f"1795.{i}" for i in range(50)]


async def test_late_reply_after_a_timeout_is_not_taken_for_the_next_one() -> None:
    """A reply that comes after its command timed out must not answer the next command."""
    seen: list[str] = []

    async def asks_twice(channel: AgiChannel) -> None:
        with contextlib.suppress(AgiTimeout):
            await channel.command("GET VARIABLE", "SLOW", timeout=0.2)
        reply = await channel.command("GET VARIABLE", "FAST", timeout=5)
        seen.append(reply.data or "")

    async def slow_asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        await asyncio.sleep(0.5)  # past the 0.2 s timeout
        writer.write(b"200 result=1 (slow)\n")
        await reader.readline()
        writer.write(b"200 result=1 (fast)\n")
        await writer.drain()
        await reader.read()
        writer.close()

    async with serving(_queue_route(asks_twice)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(env_block(inbound_env("0612345678")))
        await slow_asterisk(reader, writer)
    assert seen == ["fast"]
