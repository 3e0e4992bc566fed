"""Shared helpers for the AMI tests: paths to the shared fixtures and transcripts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dialer.ami_protocol import AmiMessage, AmiParser, encode_message
from engine.dialer.transcripts import Transcript, load_transcript
from engine.sim.asterisk_events import frame

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
FIXTURES = SHARED / "fixtures"
AMI_INDEX = FIXTURES / "ami" / "index.json"
TRANSCRIPTS = SHARED / "asterisk" / "transcripts"


def ami_index() -> list[dict[str, Any]]:
    if not AMI_INDEX.exists():
        return []
    files: list[dict[str, Any]] = json.loads(AMI_INDEX.read_text())["files"]
    return files


def fixture_bytes(entry: dict[str, Any]) -> bytes:
    return (FIXTURES / entry["file"]).read_bytes()


@functools.lru_cache(maxsize=32)
def transcript(prefix: str) -> Transcript:
    """Load the transcript whose file name starts with ``prefix`` (e.g. ``"01"``), cached."""
    (path,) = sorted(TRANSCRIPTS.glob(f"{prefix}-*.txt"))
    return load_transcript(path)


def transcript_paths() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("[0-9][0-9]-*.txt"))


# -- a scriptable fake AMI server (for client tests that must not depend on the simulator) ----


class FakeAmi:
    """Tiny AMI server: banner, Login, Ping, Originate (Success + OriginateResponse), lists.

    ``drop_on_originate`` = N: the first N Originates are received and then the connection is
    closed without an answer (a lost response).  ``received`` keeps every action of every
    connection, ``connections`` counts them, ``inject(raw)`` writes raw bytes to all clients.
    """

    def __init__(
        self,
        *,
        secret: str = "engine-secret",
        drop_on_originate: int = 0,
        answer_ping: bool = True,
        bad_login_delay: float = 0.05,
    ) -> None:
        self.secret = secret
        self.drop_on_originate = drop_on_originate
        self.answer_ping = answer_ping
        self.bad_login_delay = bad_login_delay
        self.received: list[AmiMessage] = []
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def originates(self) -> list[AmiMessage]:
        return [m for m in self.received if m.name == "Originate"]

    def inject(self, raw: bytes) -> None:
        for w in self._writers:
            w.write(raw)

    def drop_all(self) -> None:
        for w in list(self._writers):
            w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiParser()
        try:
            while data := await reader.read(65536):
                for msg in parser.feed(data):
                    if not await self._handle(msg, writer):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.remove(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, msg: AmiMessage, writer: asyncio.StreamWriter) -> bool:
        self.received.append(msg)
        aid = msg.action_id or ""
        name = (msg.name or "").lower()

        def send(*pairs: tuple[str, str]) -> None:
            writer.write(encode_message(pairs))

        if name == "login":
            if msg.get("Secret") != self.secret:
                await asyncio.sleep(self.bad_login_delay)
                send(("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed"))
                return False
            send(("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted"))
            send(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted"))
        elif name == "ping":
            if self.answer_ping:
                send(("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"))
        elif name == "originate":
            if self.drop_on_originate > 0:
                self.drop_on_originate -= 1
                return False
            send(
                ("Response", "Success"),
                ("ActionID", aid),
                ("Message", "Originate successfully queued"),
            )
            send(
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                ("ActionID", aid),
                ("Response", "Success"),
                ("Channel", "PJSIP/trunk-00000000"),
                ("Reason", "4"),
                ("Uniqueid", msg.get("ChannelId") or ""),
            )
        elif name == "coreshowchannels":
            send(
                ("Response", "Success"),
                ("ActionID", aid),
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            )
            send(
                ("Event", "CoreShowChannel"),
                ("ActionID", aid),
                ("Channel", "PJSIP/trunk-1"),
                ("Uniqueid", "u-1"),
            )
            send(
                ("Event", "CoreShowChannelsComplete"),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", "1"),
            )
        elif name == "hangup" and msg.get("Channel") == "PJSIP/nope":
            send(("Response", "Error"), ("ActionID", aid), ("Message", "No such channel"))
        else:
            send(("Response", "Success"), ("ActionID", aid), ("Message", "ok"))
        await writer.drain()
        return True


# -- transcript replay: drive an AMI server with a transcript's actions, compare the answers ---


#: The event filter of transcript 17: what an engine needs to follow its calls.
FILTER_SET = re.compile(
    r"^(OriginateResponse|Hangup|DialEnd|QueueCaller.*|Agent.*|DTMFEnd|UserEvent)$"
)
#: Values compared between a recording and the simulator (the rest is volatile).
STABLE = (
    "Event",
    "Variable",
    "Application",
    "DialStatus",
    "Cause",
    "Cause-txt",
    "Reason",
    "Response",
    "Context",
    "Exten",
    "UserEvent",
    "Digit",
    "ChannelStateDesc",
)


@dataclass
class Replay:
    """What came back when a transcript's actions were replayed."""

    messages: list[tuple[float, AmiMessage]] = field(default_factory=list)
    eof: bool = False

    def responses(self) -> dict[str, AmiMessage]:
        return {m.action_id or "": m for _, m in self.messages if m.kind == "response"}

    def events(self) -> list[tuple[float, AmiMessage]]:
        return [(t, m) for t, m in self.messages if m.kind == "event"]


def channel_names(events: list[tuple[float, AmiMessage]]) -> dict[str, str]:
    """Uniqueid -> channel name, from Newchannel events."""
    return {m["Uniqueid"]: m["Channel"] for _, m in events if m.event == "Newchannel"}


async def replay_actions(
    port: int,
    actions: list[tuple[float, AmiMessage]],
    *,
    scale: float,
    settle: float,
    recorded_names: dict[str, str],
    skip: frozenset[str] = frozenset(),
    idle: Callable[[int], bool] | None = None,
) -> Replay:
    """Send ``actions`` at their recorded offsets times ``scale``; collect everything.

    ``idle(n)`` says whether the server has received ``n`` Originates and has no call left;
    a Logoff waits for it (the recordings logged off after the calls ended).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    result = Replay()
    t0 = time.monotonic()

    async def read() -> None:
        parser = AmiParser()
        while data := await reader.read(65536):
            now = time.monotonic() - t0
            result.messages.extend((now, m) for m in parser.feed(data))
        result.eof = True

    reader_task = asyncio.create_task(read())
    name_to_id = {name: uid for uid, name in recorded_names.items()}
    first = actions[0][0] if actions else 0.0
    originated = 0
    for offset, action in actions:
        if action.action_id in skip:
            continue
        await asyncio.sleep(max(0.0, t0 + (offset - first) * scale - time.monotonic()))
        if action.name == "Logoff" and idle is not None:
            # The recordings log off once the calls are over; wait for that, not the clock.
            deadline = time.monotonic() + 5.0
            while not idle(originated) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        originated += action.name == "Originate"
        headers = list(action.headers)
        for i, (key, value) in enumerate(headers):
            if key == "Channel" and value in name_to_id:
                sim_names = channel_names(result.events())
                headers[i] = (key, sim_names.get(name_to_id[value], value))
        writer.write(frame(headers))
    deadline = time.monotonic() + settle
    while not result.eof and time.monotonic() < deadline:
        if idle is not None and idle(originated):
            await asyncio.sleep(0.05)  # the last events of the last call
            break
        await asyncio.sleep(0.005)
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader_task, 2.0)
    return result


def own_events(
    events: list[tuple[float, AmiMessage]], channel_id: str, filtered: bool
) -> list[tuple[float, AmiMessage]]:
    keys = ("Uniqueid", "DestUniqueid", "Linkedid") if filtered else ("Uniqueid", "DestUniqueid")
    out = []
    for t, m in events:
        if filtered and not FILTER_SET.match(m.event or ""):
            continue
        if m.event == "OriginateResponse" and not filtered:
            continue  # its position varies (fact 3): checked on its own
        if any(m.get(k) == channel_id for k in keys):
            out.append((t, m))
    return out


def stable_key(m: AmiMessage) -> tuple[str | None, ...]:
    return tuple(m.get(k) for k in STABLE)


def group_by_time(events: list[tuple[float, AmiMessage]], tol: float) -> list[list[AmiMessage]]:
    groups: list[list[AmiMessage]] = []
    start = -1e9
    for t, m in events:
        if t - start > tol or not groups:
            groups.append([])
            start = t
        groups[-1].append(m)
    return groups


def compare_channel(
    recorded: list[tuple[float, AmiMessage]], simulated: list[AmiMessage], tol: float = 0.003
) -> list[str]:
    """Differences between a recorded and a simulated per-channel event sequence.

    Order is compared between groups of events Asterisk sent within ``tol`` seconds of each
    other (inside such a group the order varies between runs, e.g. Newstate/DialState in 01 vs
    19); inside a group events are matched by their stable values and must carry the same
    header names.
    """
    problems: list[str] = []
    pos = 0
    for group in group_by_time(recorded, tol):
        chunk = simulated[pos : pos + len(group)]
        pos += len(group)
        want, got = Counter(map(stable_key, group)), Counter(map(stable_key, chunk))
        if want != got:
            problems.append(f"events differ: missing {want - got}, unexpected {got - want}")
            continue
        pool = list(chunk)
        for rec in group:
            sim = next(s for s in pool if stable_key(s) == stable_key(rec))
            pool.remove(sim)
            rec_names, sim_names = [k for k, _ in rec.headers], [k for k, _ in sim.headers]
            if sorted(rec_names) != sorted(sim_names):
                problems.append(
                    f"{rec.event}: headers {sorted(set(rec_names) ^ set(sim_names))} differ"
                )
    if pos != len(simulated):
        extra = [m.event for m in simulated[pos:]]
        problems.append(f"unexpected extra events {extra}")
    return problems
