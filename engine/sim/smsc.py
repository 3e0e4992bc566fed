"""Fault-injecting SMSC simulator (asyncio) for tests, the demo and the benchmark.

Faults are plain settings on :class:`SmscFaults` and can be changed while it runs: its own TPS
limit answered with ESME_RTHROTTLED, ESME_RMSGQFUL every Nth submit, slow or missing
responses, bind refused, the connection dropped mid-window, delivery reports late, out of
order or before the submit_sm_resp, message ids in hex with decimal receipts, garbage bytes.

Run ``python -m engine.sim.smsc --port 2775`` for the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from engine.sim import smsc_pdu as p

log = logging.getLogger(__name__)


@dataclass
class SmscFaults:
    refuse_bind: bool = False
    #: Own submit rate limit (per SMSC, all binds): above it answer ESME_RTHROTTLED.
    tps_limit: float | None = None
    queue_full_every: int = 0
    resp_delay_s: float = 0.0
    #: Stop answering submit_sm after this many (counted over the simulator's life).
    no_response_after: int | None = None
    #: Close the connection (without answering) when this submit arrives.
    drop_connection_at: int | None = None
    garbage_at: int | None = None
    #: Answer this submit with half a submit_sm_resp, then close (cut mid-PDU).
    truncate_at: int | None = None
    dlr: bool = True
    dlr_delay_s: float = 0.0
    dlr_before_resp: bool = False
    shuffle_dlrs: bool = False
    #: "hex": ids in hex everywhere; "hex_dec": hex in submit_sm_resp, decimal in receipt text.
    id_format: Literal["hex", "dec", "hex_dec"] = "hex"
    #: Destination suffix -> receipt stat (e.g. {"0": "UNDELIV"}); default DELIVRD.
    stat_by_suffix: dict[str, str] = field(default_factory=dict)
    #: Destination suffix -> submit_sm_resp command_status (e.g. {"99": 0x0B}).
    reject_by_suffix: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliverArgs:
    source: str
    destination: str
    text: bytes
    esm_class: int = 0
    data_coding: int = 0


@dataclass
class Received:
    destination: str
    short_message: bytes
    esm_class: int
    data_coding: int
    message_id: str


class SmscSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: SmscFaults | None = None):
        self.host = host
        self.port = port
        self.faults = faults or SmscFaults()
        self.received: list[Received] = []
        self.accepted: Counter[str] = Counter()  # destination -> accepted segments
        self.submits = 0
        self.enquire_links = 0
        self.throttled = 0
        self.queue_full = 0
        self.binds = 0
        self.sessions: set[_Session] = set()
        self.redeliver: list[DeliverArgs] = []
        self._next_id = 0x10000
        self._server: asyncio.Server | None = None
        self._window_start = time.monotonic()
        self._window_count = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for session in list(self.sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def send_mo(
        self, source: str, text: str, destination: str = "Burgernet", parts: int = 1
    ) -> None:
        """A participant's reply (in ``parts`` concatenated parts) to the first bound session."""
        coding = 8 if any(ord(c) > 0x7F for c in text) else 0
        size = -(-len(text) // parts)
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        for session in list(self.sessions):
            for number, chunk in enumerate(chunks, start=1):
                body = chunk.encode("utf-16-be") if coding else chunk.encode()
                udh = bytes((5, 0, 3, 0x2A, len(chunks), number)) if parts > 1 else b""
                esm = 0x40 if udh else 0
                args = DeliverArgs(source, destination, udh + body, esm, coding)
                session.send_deliver(args)
            return

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.serve()
        finally:
            self.sessions.discard(session)
            session.close()
            self.hand_over(session.lost_receipts())

    def hand_over(self, receipts: list[DeliverArgs]) -> None:
        """Receipts a dropped bind never acknowledged go to a live bind, or wait for the next.

        The client may have bound again before the old session noticed its end: then the new
        bind has already taken the waiting list, so these go to it directly.
        """
        live = next((s for s in self.sessions if s.bound and not s.closed), None)
        if live is None:
            self.redeliver.extend(receipts)
            return
        for args in receipts:
            live.send_deliver(args)

    def new_message_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def over_limit(self) -> bool:
        limit = self.faults.tps_limit
        if limit is None:
            return False
        now = time.monotonic()
        if now - self._window_start >= 0.1:
            self._window_start, self._window_count = now, 0
        if self._window_count >= limit * 0.1:
            return True
        self._window_count += 1
        return False


class _Session:
    def __init__(
        self, sim: SmscSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.bound = False
        self.seq = 0
        self.closed = False
        self.pending_dlrs: list[DeliverArgs] = []
        #: deliver_sm sent but not yet acknowledged: redelivered on the next bind if lost.
        self.unacked: dict[int, DeliverArgs] = {}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def serve(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while not self.closed:
                header = await self.reader.readexactly(16)
                length, command_id, _status, sequence = p.HEADER.unpack(header)
                if length < 16 or length > 70_000:
                    return
                body = await self.reader.readexactly(length - 16)
                await self._dispatch(command_id, sequence, body)
                if self.writer.transport.get_write_buffer_size() > 65536:
                    await self.writer.drain()

    async def _dispatch(self, command_id: int, sequence: int, body: bytes) -> None:
        if command_id in (p.BIND_TRANSCEIVER, p.BIND_TRANSMITTER, p.BIND_RECEIVER):
            self._on_bind(command_id, sequence)
        elif command_id == p.SUBMIT_SM:
            await self._on_submit(sequence, body)
        elif command_id == p.ENQUIRE_LINK:
            self.sim.enquire_links += 1
            self.write(p.resp(command_id, sequence))
        elif command_id == p.UNBIND:
            self.write(p.resp(command_id, sequence))
            await self.writer.drain()
            self.close()
        elif command_id == p.DELIVER_SM | p.RESP:
            self.unacked.pop(sequence, None)
        elif command_id & p.RESP:
            return  # enquire_link_resp: nothing to do
        else:
            self.write(p.pdu(p.GENERIC_NACK, sequence, status=0x03))

    def _on_bind(self, command_id: int, sequence: int) -> None:
        if self.sim.faults.refuse_bind:
            self.write(p.resp(command_id, sequence, status=0x0E, body=b"bnetsim\x00"))
            return
        self.bound = True
        self.sim.binds += 1
        self.write(p.resp(command_id, sequence, body=b"bnetsim\x00"))
        # Like a real SMSC: receipts a dropped bind never acknowledged come on the next one.
        waiting, self.sim.redeliver = self.sim.redeliver, []
        for args in waiting:
            self.send_deliver(args)

    async def _on_submit(self, sequence: int, body: bytes) -> None:
        sim, faults = self.sim, self.sim.faults
        sim.submits += 1
        n = sim.submits
        if faults.drop_connection_at is not None and n >= faults.drop_connection_at:
            faults.drop_connection_at = None
            self.close()
            return
        if faults.garbage_at is not None and n >= faults.garbage_at:
            faults.garbage_at = None
            self.write(b"\xde\xad\xbe\xef" * 8)
            return
        if faults.truncate_at is not None and n >= faults.truncate_at:
            faults.truncate_at = None
            self.write(p.resp(p.SUBMIT_SM, sequence, body=b"abcdef\x00")[:10])
            await self.writer.drain()
            self.close()
            return
        if faults.no_response_after is not None and n > faults.no_response_after:
            return
        try:
            sm = p.parse_submit(body)
        except (ValueError, IndexError):
            self.write(p.resp(p.SUBMIT_SM, sequence, status=0x01))
            return
        status = self._status_for(sm, n)
        if status:
            self.write(p.resp(p.SUBMIT_SM, sequence, status=status, body=b"\x00"))
            return
        await self._accept(sequence, sm)

    def _status_for(self, sm: p.SubmitSm, n: int) -> int:
        faults = self.sim.faults
        for suffix, status in faults.reject_by_suffix.items():
            if sm.destination_addr.endswith(suffix):
                return status
        if faults.queue_full_every and n % faults.queue_full_every == 0:
            self.sim.queue_full += 1
            return 0x14
        if self.sim.over_limit():
            self.sim.throttled += 1
            return 0x58
        return 0

    async def _accept(self, sequence: int, sm: p.SubmitSm) -> None:
        sim, faults = self.sim, self.sim.faults
        number = sim.new_message_id()
        resp_id = format(number, "x") if faults.id_format != "dec" else str(number)
        text_id = str(number) if faults.id_format in ("dec", "hex_dec") else resp_id
        sim.received.append(
            Received(sm.destination_addr, sm.short_message, sm.esm_class, sm.data_coding, resp_id)
        )
        sim.accepted[sm.destination_addr] += 1
        dlr = self._receipt(sm, text_id) if faults.dlr and sm.registered_delivery else None
        if dlr is not None and faults.dlr_before_resp:
            self.send_deliver(dlr)
            dlr = None
        if faults.resp_delay_s:
            await asyncio.sleep(faults.resp_delay_s)
        self.write(p.resp(p.SUBMIT_SM, sequence, body=resp_id.encode() + b"\x00"))
        if dlr is not None:
            self._queue_dlr(dlr)

    def _receipt(self, sm: p.SubmitSm, message_id: str) -> DeliverArgs:
        stat = "DELIVRD"
        for suffix, value in self.sim.faults.stat_by_suffix.items():
            if sm.destination_addr.endswith(suffix):
                stat = value
        text = p.receipt_text(message_id, stat)
        return DeliverArgs(sm.destination_addr, sm.source_addr, text, esm_class=0x04)

    def _queue_dlr(self, dlr: DeliverArgs) -> None:
        faults = self.sim.faults
        if faults.shuffle_dlrs:
            self.pending_dlrs.append(dlr)
            if len(self.pending_dlrs) >= 4:
                random.shuffle(self.pending_dlrs)
                for item in self.pending_dlrs:
                    self.send_deliver(item)
                self.pending_dlrs.clear()
        elif faults.dlr_delay_s:
            asyncio.get_running_loop().call_later(faults.dlr_delay_s, self.send_deliver, dlr)
        else:
            self.send_deliver(dlr)

    def send_deliver(self, args: DeliverArgs) -> None:
        if self.closed:
            self.sim.hand_over([args])
            return
        seq = self.next_seq()
        self.unacked[seq] = args
        self.write(
            p.deliver_sm(
                seq,
                source=args.source,
                destination=args.destination,
                text=args.text,
                esm_class=args.esm_class,
                data_coding=args.data_coding,
            )
        )

    def lost_receipts(self) -> list[DeliverArgs]:
        return [*self.unacked.values(), *self.pending_dlrs]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.sim.smsc", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--tps", type=float, default=None, help="own submit rate limit")
    parser.add_argument("--resp-delay", type=float, default=0.0)
    parser.add_argument("--dlr-delay", type=float, default=0.0)
    parser.add_argument("--no-dlr", action="store_true")
    return parser.parse_args(argv)


async def serve_forever(args: argparse.Namespace) -> None:
    faults = SmscFaults(
        tps_limit=args.tps,
        resp_delay_s=args.resp_delay,
        dlr_delay_s=args.dlr_delay,
        dlr=not args.no_dlr,
    )
    sim = SmscSimulator(args.host, args.port, faults)
    port = await sim.start()
    print(f"SMSC simulator listening on {args.host}:{port}", flush=True)
    try:
        while True:
            await asyncio.sleep(5)
            log.info("submits=%d throttled=%d binds=%d", sim.submits, sim.throttled, sim.binds)
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(_parse_args(argv)))


if __name__ == "__main__":
    main()


class ThreadedSmsc:
    """The simulator on its own event-loop thread, for blocking callers (``bnet smpp run``)."""

    def __init__(self, host: str, port: int, faults: SmscFaults | None = None):
        self.sim = SmscSimulator(host, port, faults)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> int:
        self._thread.start()
        port: int = asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)
        return port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
