"""After a (re)connect: find out which calls are still up instead of ever dialling again.

``CoreShowChannels`` lists live channels with Uniqueid = our ChannelId (fact 12). Calls that
lost their connection (state ``limbo``) resume when their channel is listed and end as
``unknown`` otherwise. Attempts left in flight in the store by this node before a restart, or
by a node whose heartbeat expired, are adopted when live and closed as ``unknown`` when not.

Also the node's housekeeping: heartbeat, trunk settings reload, live trunk stats in Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from engine.actions.models import CallAttempt
from engine.dialer.ami_client import AmiActionError, AmiConnectionLost, AmiTimeout
from engine.dialer.attempt_fsm import AttemptMachine
from engine.dialer.calls import Call
from engine.dialer.planner import Candidate
from engine.dialer.records import AttemptResult, in_flight, record_results, running_actions
from engine.dialer.trunk_admin import effective_trunks, versions
from engine.store.base import utcnow
from engine.store.db import transaction

if TYPE_CHECKING:
    from engine.dialer.service import DialerService

__all__ = ["Reconciler"]

log = logging.getLogger(__name__)
#: How often a running node looks for calls left in flight by a node that died.
DEAD_PEER_CHECK_S = 10.0


class Reconciler:
    def __init__(self, service: DialerService, *, housekeeping_s: float = 2.0) -> None:
        self.svc = service
        self.housekeeping_s = housekeeping_s
        self._running: dict[str, asyncio.Task[None]] = {}
        self._orphans_done: set[str] = set()
        self._trunk_versions: dict[str, int] | None = None
        self._dead_checked = 0.0

    def needed(self, server: str) -> None:
        task = self._running.get(server)
        if task is None or task.done():
            self._running[server] = asyncio.create_task(self._reconcile(server))

    async def _reconcile(self, server: str, *, dead_peers_only: bool = False) -> None:
        client = self.svc.clients[server]
        try:
            channels = await client.core_show_channels()
        except (AmiConnectionLost, AmiTimeout, AmiActionError) as exc:
            log.warning("dialer: reconcile with %s postponed: %s", server, exc)
            return  # the next connect tries again; limbo calls wait
        live: dict[str, str] = {}
        for m in channels:
            for key in ("Linkedid", "Uniqueid"):  # the Uniqueid (our ChannelId) wins
                live[m.get(key) or ""] = m.get("ChannelStateDesc") or ""
        for call in self.svc.calls.of_server(server):
            if call.machine.state == "limbo":
                state = live.get(call.attempt_id)
                self.svc.apply(call, "gone" if state is None else "alive", state or "")
        if dead_peers_only:
            await self._adopt_orphans(server, live, include_self=False)
        elif server not in self._orphans_done:
            await self._adopt_orphans(server, live)
        self.svc.servers_up.add(server)
        self.svc.kick()

    async def _adopt_orphans(
        self, server: str, live: dict[str, str], *, include_self: bool = True
    ) -> None:
        """Attempts in flight in the store with no live owner (a crash, a restart).

        ``include_self`` only at start: later, this node's own claimed-ahead attempts are in
        its ready buffer, not orphans."""
        self._orphans_done.add(server)
        svc = self.svc
        rows, trunk_of = await svc.store.run(self._load_orphans, include_self)
        servers = {t["name"]: t["server"] for t in svc.pool.snapshot()}
        mine = [r for r in rows if servers.get(trunk_of.get(r.id) or "", server) == server]
        gone: list[AttemptResult] = []
        for row in mine:
            if row.id in svc.calls.calls:
                continue
            lease = svc.pool.adopt(trunk_of.get(row.id) or "") if row.id in live else None
            if lease is None:
                gone.append(_unknown(row, trunk_of.get(row.id)))
                continue
            cand = Candidate(row.rank, row.attempt_no, row.id, row.action_id, row.e164, row.purpose)
            machine = AttemptMachine(row.id, svc.timers, state="limbo")
            machine.facts.answered = row.state == "answered"
            call = Call(cand, lease, machine, started=svc.clock(), answered_at=row.answered_at)
            svc.calls.add(call)
            svc.apply(call, "alive", live[row.id])
        if mine:
            await svc.store.run(self._close_and_claim, gone, [r.id for r in mine])
            log.warning("dialer: %d orphaned calls, %d closed as unknown", len(mine), len(gone))

    def _load_orphans(
        self, include_self: bool = True
    ) -> tuple[list[CallAttempt], dict[str, str | None]]:
        """In-flight rows of this node (restart) or of nodes without a heartbeat. Claimed rows
        whose claim key is absent were never sent: they go back to the queue right here."""
        svc = self.svc
        others = svc.claims.live_nodes() - {svc.node}
        if not include_self:
            others.add(svc.node)
        with transaction(svc.factory) as session:
            rows = [r for r in in_flight(session, None) if r.claimed_by not in others]
            # The claim key also names the trunk (rows get theirs only when they finish).
            marks = svc.claims.sent_marks([_cand(r) for r in rows])
            unsent = [r for r in rows if r.state == "originating" and r.id not in marks]
            running = running_actions(session, {r.action_id for r in unsent})
            for r in unsent:
                r.state = "queued" if r.action_id in running else "cancelled"
                r.claimed_by, r.originated_at = None, None
            if unsent:
                log.warning("dialer: %d claimed but unsent attempts back in the queue", len(unsent))
            sent = [r for r in rows if r not in unsent]
            trunk_of = {r.id: marks.get(r.id) or r.trunk for r in sent}
            return sent, trunk_of

    def _close_and_claim(self, gone: list[AttemptResult], ids: list[str]) -> None:
        with transaction(self.svc.factory) as session:
            record_results(session, gone)
            closed = {g.attempt_id for g in gone}
            kept = [i for i in ids if i not in closed]
            if kept:
                session.execute(
                    update(CallAttempt)
                    .where(CallAttempt.id.in_(kept))
                    .values(claimed_by=self.svc.node)
                )

    # -- housekeeping -------------------------------------------------------------------------
    async def housekeeping(self) -> None:
        while True:
            try:
                dead_peers = await self.svc.store.run(self._housekeeping_once)
            except Exception as exc:  # store or Redis hiccup: calls go on, try again soon
                log.warning("dialer: housekeeping failed: %s", exc)
                dead_peers = False
            if dead_peers:  # a node died with calls in flight: take them over
                for server in list(self.svc.servers_up):
                    self._running[server] = asyncio.create_task(
                        self._reconcile(server, dead_peers_only=True)
                    )
            await asyncio.sleep(self.housekeeping_s)

    def _housekeeping_once(self) -> bool:
        """Heartbeat, trunk reload, stats; True when a dead node left calls in flight."""
        svc = self.svc
        svc.claims.heartbeat()
        with transaction(svc.factory) as session:
            current = versions(session)
            if current != self._trunk_versions:
                trunks = effective_trunks(session, svc.settings)
                svc.pool.reload(trunks)
                if self._trunk_versions is not None:
                    log.info("dialer: trunk settings reloaded (%d trunks)", len(trunks))
                self._trunk_versions = current
        stats = {"node": svc.node, "at": utcnow().isoformat(), "trunks": svc.pool.snapshot()}
        svc.redis.hset(svc.settings.stats_key, svc.node, json.dumps(stats))
        svc.redis.expire(svc.settings.stats_key, 60)
        return self._dead_peer_rows()

    def _dead_peer_rows(self) -> bool:
        now = time.monotonic()
        if now - self._dead_checked < DEAD_PEER_CHECK_S:
            return False
        self._dead_checked = now
        svc = self.svc
        alive = svc.claims.live_nodes() | {svc.node}
        with transaction(svc.factory) as session:
            owners = {r.claimed_by for r in in_flight(session, None)}
        return bool(owners - alive - {None})


def _cand(row: CallAttempt) -> Candidate:
    return Candidate(row.rank, row.attempt_no, row.id, row.action_id, row.e164, row.purpose)


def _unknown(row: CallAttempt, trunk: str | None) -> AttemptResult:
    now: datetime = utcnow()
    outcome = "answered" if row.state == "answered" else "unknown"
    return AttemptResult(
        row.id,
        row.action_id,
        row.e164,
        outcome,
        now,
        trunk=trunk or row.trunk,
        answered_at=row.answered_at,
        extra={"reconciled": True},
    )
