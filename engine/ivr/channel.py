"""One FastAGI connection: moves bytes, applies per-command timeouts, tracks hangup.

The protocol decisions live in :mod:`engine.ivr.agi_protocol`; this module only reads lines,
writes commands and turns the outcomes a handler must react to into exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from engine.ivr.agi_protocol import (
    DEAD_CHANNEL,
    AgiEnvironment,
    AgiProtocolError,
    AgiReply,
    ReplyAssembler,
    encode_command,
    parse_env_line,
)

log = logging.getLogger(__name__)

#: Lines longer than this are not AGI (res_agi's own buffer is 2048 bytes; usage texts are
#: longer lines at most a few hundred bytes).
MAX_LINE_BYTES = 8192
MAX_ENV_LINES = 200


class AgiError(Exception):
    """Base of the failures a handler sees."""


class AgiHangup(AgiError):
    """The caller hung up: ``511`` on a channel command (after ``result=-1`` and ``HANGUP``)."""


class AgiClosed(AgiError):
    """Asterisk closed the socket."""


class AgiTimeout(AgiError):
    """No final reply within the command's timeout."""


class AgiChannel:
    """Commands on one AGI session; not safe for concurrent use (AGI is strictly serial)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = 10.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._assembler = ReplyAssembler()
        self.command_timeout = command_timeout
        self.env = AgiEnvironment({})
        #: Commands written whose final reply was not read yet (after a timeout).
        self._outstanding = 0
        self.commands_sent = 0

    @property
    def hungup(self) -> bool:
        return self._assembler.hangup_seen

    async def read_environment(self, timeout: float = 5.0) -> AgiEnvironment:
        values: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            for _ in range(MAX_ENV_LINES):
                line = (await self._readline()).rstrip("\r\n")
                if line == "":
                    self.env = AgiEnvironment(values)
                    return self.env
                name, value = parse_env_line(line)
                values[name] = value
        raise AgiProtocolError("AGI environment has too many lines")

    async def command(self, name: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command and return its final reply.

        Raises :class:`AgiHangup` on 511 (the channel is gone), :class:`AgiTimeout`,
        :class:`AgiClosed`, :class:`AgiProtocolError` (also for a refused argument).
        """
        data = encode_command(name, *args)
        limit = self.command_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await self._drain_outstanding()
                self._writer.write(data)
                await self._writer.drain()
                self._outstanding += 1
                self.commands_sent += 1
                reply = await self._read_reply()
        except TimeoutError as exc:
            raise AgiTimeout(f"{name}: no reply within {limit:.1f}s") from exc
        except (ConnectionError, OSError) as exc:
            raise AgiClosed(str(exc)) from exc
        if reply.code == DEAD_CHANNEL:
            raise AgiHangup(f"{name}: {reply.text}")
        return reply

    async def close(self) -> None:
        """Closing the socket ends AGI(): the dialplan continues with AGISTATUS=SUCCESS."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def _drain_outstanding(self) -> None:
        # A command that timed out may still be answered later; read those replies first
        # so every reply is matched to its own command.
        while self._outstanding:
            await self._read_reply()

    async def _read_reply(self) -> AgiReply:
        while True:
            reply = self._assembler.feed(await self._readline())
            if reply is not None:
                self._outstanding -= 1
                return reply

    async def _readline(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise AgiClosed("Asterisk closed the AGI socket") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiProtocolError("AGI line too long") from exc
        if len(raw) > MAX_LINE_BYTES:
            raise AgiProtocolError("AGI line too long")
        return raw.decode("utf-8", "replace")
