"""Shared helpers for the AMI tests: paths to the shared fixtures and transcripts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from engine.dialer.ami_protocol import AmiMessage, AmiParser, encode_message
from engine.dialer.transcripts import Transcript, load_transcript

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


def transcript(prefix: str) -> Transcript:
    """Load the transcript whose file name starts with ``prefix`` (e.g. ``"01"``)."""
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
