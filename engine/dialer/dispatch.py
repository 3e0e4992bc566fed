"""Filling lines: claimed attempts wait in a small ready buffer; a freed line takes one at once.

Two steps, so that no line waits for the store:

1. *Claim ahead* (store thread, in batches, one batch in flight): the planner's next attempts
   go ``queued`` -> ``originating`` with ``claimed_by`` = this node. No other node can take
   them now; nobody has been called yet.
2. *Send* (event loop, the moment a line is free): the Redis claim key is set (``SET NX``,
   value ``<attempt id>|<trunk>``) and the Originate is written. The key is the proof that a
   call may have been placed: after a crash, an ``originating`` row without its key was never
   sent and goes back to the queue; with its key it is reconciled with Asterisk and never
   redialled (``engine.dialer.reconcile``).

The buffer is small (a quarter of the lines): it only has to cover one store round trip.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

from engine.dialer.ami_client import AmiActionError, AmiConnectionLost, AmiTimeout
from engine.dialer.ami_protocol import AmiEncodeError
from engine.dialer.attempt_fsm import AttemptMachine
from engine.dialer.calls import Call
from engine.dialer.originate import BadOriginate, build_originate
from engine.dialer.planner import Candidate
from engine.dialer.records import AttemptResult
from engine.dialer.store_thread import CLAIM
from engine.dialer.trunks import Lease
from engine.store.base import utcnow

if TYPE_CHECKING:
    from engine.dialer.service import DialerService

__all__ = ["Dispatcher"]

_E164 = re.compile(r"\+[1-9]\d{5,14}\Z")

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, service: DialerService) -> None:
        self.svc = service
        lines = sum(t.max_channels for t in service.settings.trunks)
        self.target = max(8, lines // 4)
        self.ready: deque[Candidate] = deque()
        self.claiming = False
        self.originates = 0
        self.max_in_flight = 64
        self._to_send: list[tuple[Candidate, Lease]] = []
        self._sending = False
        self._windows: dict[str, asyncio.Semaphore] = {}

    # -- step 2: a free line takes a claimed attempt ------------------------------------------
    def fill_lines(self) -> None:
        svc = self.svc
        if svc.servers_up and self.ready and svc.pool.free_lines() > 0:
            self._send_ready()
        if not self.claiming and len(self.ready) < self.target and svc.planner.queued():
            self._claim_more()

    def _send_ready(self) -> None:
        svc = self.svc
        sendable: list[tuple[Candidate, Lease]] = []
        kept: deque[Candidate] = deque()
        free = svc.pool.free_lines()
        while self.ready and free > 0:
            cand = self.ready.popleft()
            lease = svc.pool.reserve_line(cand.e164, avoid=cand.avoid_trunk, servers=svc.servers_up)
            if lease is None:
                kept.append(cand)  # no line for this number right now: keeps its turn
            else:
                sendable.append((cand, lease))
                free -= 1
        kept.extend(self.ready)
        self.ready = kept
        if sendable:
            # The lines are reserved already; the claim keys are set before any Originate.
            # One Redis round trip at a time: lines freed meanwhile go in the next batch.
            self._to_send.extend(sendable)
            if not self._sending:
                self._sending = True
                svc.spawn(self._send_batches())

    async def _send_batches(self) -> None:
        try:
            while self._to_send:
                batch, self._to_send = self._to_send, []
                await self._send(batch)
        finally:
            self._sending = False

    async def _send(self, sendable: list[tuple[Candidate, Lease]]) -> None:
        svc = self.svc
        pairs = [(c, lease.trunk) for c, lease in sendable]
        try:
            allowed, dupes = await svc.claims.mark_sent(svc.aredis, pairs)
        except Exception:
            log.exception("dialer: Redis claim keys failed; %d calls wait", len(sendable))
            for cand, lease in sendable:
                svc.pool.unreserve(lease)
                self.ready.appendleft(cand)
            return
        ok = {c.attempt_id for c in allowed}
        for cand, lease in sendable:
            if cand.attempt_id in ok:
                self._start_call(cand, lease)
            else:
                svc.pool.unreserve(lease)
        for cand in dupes:
            # Someone placed this very call before (the key outlived the row): never again.
            svc.writer.result(
                AttemptResult(cand.attempt_id, cand.action_id, cand.e164, "duplicate", utcnow())
            )

    def _start_call(self, cand: Candidate, lease: Lease) -> None:
        svc = self.svc
        machine = AttemptMachine(cand.attempt_id, svc.timers)
        meta = svc.feeder.meta.get(cand.action_id)
        machine.facts.amd_mode = svc.settings.amd.get(meta.kind, "off") if meta else "off"
        call = Call(cand, lease, machine, started=svc.clock())
        svc.calls.add(call)
        svc.spawn(self._originate(call))

    # -- step 1: claim ahead ------------------------------------------------------------------
    def _claim_more(self) -> None:
        svc = self.svc
        want = self.target - len(self.ready) + max(0, svc.pool.free_lines() - len(self.ready))

        def route(cand: Candidate) -> str | None:
            if svc.pool.serves(cand.e164, servers=svc.servers_up):
                return "call"
            # Served by a trunk that is down or disabled: wait. Served by none, or not a
            # number at all: it would block its action forever, so it fails now.
            if _E164.match(cand.e164) and svc.pool.serves(cand.e164, include_disabled=True):
                return None
            return "unroutable"

        picks = svc.planner.pick(route, want)
        if picks:
            self.claiming = True
            svc.spawn(self._claim(picks))

    async def _claim(self, picks: list[tuple[Candidate, str]]) -> None:
        svc = self.svc
        cands = [c for c, _ in picks]
        try:
            won = await svc.store.run(svc.claims.claim_rows, cands, utcnow(), priority=CLAIM)
        except Exception:
            log.exception("dialer: claiming %d attempts failed; they stay queued", len(picks))
            won = []
            for cand in cands:
                svc.planner.put_back(cand)
        finally:
            self.claiming = False
        unroutable = {c.attempt_id for c, how in picks if how == "unroutable"}
        cancelled = svc.feeder.cancelled
        for cand in won:
            if cand.action_id in cancelled:
                svc.release_claimed([cand], "cancelled")
            elif cand.attempt_id in unroutable:
                log.warning("dialer: attempt %s: no trunk serves its number", cand.attempt_id)
                svc.writer.result(
                    AttemptResult(
                        cand.attempt_id,
                        cand.action_id,
                        cand.e164,
                        "failed",
                        utcnow(),
                        extra={"reason": "no trunk serves this number"},
                    )
                )
            else:
                self.ready.append(cand)
        svc.kick()

    def drop_action(self, action_id: str) -> list[Candidate]:
        """Claimed but unsent attempts of a cancelled action."""
        dropped = [c for c in self.ready if c.action_id == action_id]
        self.ready = deque(c for c in self.ready if c.action_id != action_id)
        return dropped

    # -- the Originate ------------------------------------------------------------------------
    async def _originate(self, call: Call) -> None:
        svc = self.svc
        meta = svc.feeder.meta.get(call.cand.action_id)
        client = svc.clients[call.server]
        try:
            req = build_originate(
                attempt_id=call.attempt_id,
                action_id=call.cand.action_id,
                e164=call.cand.e164,
                purpose=call.cand.purpose,
                lease=call.lease,
                context=svc.settings.outbound_context,
                caller_id=svc.settings.caller_id,
                timeout_s=svc.settings.originate_timeout_s,
                amd_mode=call.machine.facts.amd_mode,
                **self._media(meta.audio_for(call.cand.purpose) if meta else None),
            )
        except BadOriginate as exc:
            log.warning("dialer: attempt %s not dialled: %s", call.attempt_id, exc)
            call.machine.facts.unsendable = True
            svc.apply(call, "refused")
            return
        # At most `max_in_flight` Originates without their immediate reply per server: if the
        # connection drops, only those few end up with an unknown fate (Asterisk acks in ms).
        async with self._in_flight(call.server):
            await self._send_originate(call, client, req)

    async def _send_originate(self, call: Call, client: Any, req: Any) -> None:
        svc = self.svc
        if client.state != "connected":
            # Not written to any socket: certainly not placed, so it simply waits for a line.
            self._unsent(call)
            return
        action_id = client.next_action_id("originate")
        svc.calls.remember_action_id(call, action_id)
        svc.apply(call, "sent")
        self.originates += 1
        try:
            await client.originate(
                req.channel,
                channel_id=req.channel_id,
                other_channel_id=req.other_channel_id,
                context=req.context,
                variables=req.variables,
                caller_id=req.caller_id,
                timeout_ms=req.timeout_ms,
                action_id=action_id,
            )
        except AmiActionError as exc:
            # e.g. "Asterisk is shutting down" (fact 11): nobody was called; use other servers.
            log.warning("dialer: %s refused an Originate: %s", call.server, exc)
            svc.servers_up.discard(call.server)
            svc.apply(call, "refused")
        except (AmiConnectionLost, AmiTimeout):
            svc.apply(call, "conn_lost")  # fate unknown: reconcile, never resend
        except AmiEncodeError:
            log.error("dialer: attempt %s had an unsafe value; not dialled", call.attempt_id)
            call.machine.facts.unsendable = True
            svc.apply(call, "refused")
        else:
            svc.apply(call, "ack")

    def _in_flight(self, server: str) -> asyncio.Semaphore:
        sem = self._windows.get(server)
        if sem is None:
            sem = self._windows[server] = asyncio.Semaphore(self.max_in_flight)
        return sem

    def _unsent(self, call: Call) -> None:
        svc = self.svc
        svc.calls.remove(call)
        svc.pool.unreserve(call.lease)
        self.ready.appendleft(call.cand)  # its claim (row and key) stays valid

    def _media(self, audio_hash: str | None) -> dict[str, Any]:
        svc = self.svc
        if not audio_hash or not re.fullmatch(r"[0-9a-f]{64}", audio_hash):
            return {}
        # Long URL on purpose: very short ones fail to play (asterisk#444, fact 15).
        base = svc.settings.media_base_url.rstrip("/")
        return {
            "msg_file": svc.msg_file_for(audio_hash) if svc.msg_file_for else None,
            "msg_url": f"{base}/{audio_hash}.wav" if base else None,
        }
