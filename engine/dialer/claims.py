"""Exactly once: an attempt is claimed in the store and in Redis before its Originate is sent.

The store's conditional update (``queued`` -> ``originating``, ``claimed_by`` = node) is the
atomic claim between dialer nodes. The Redis key per (action, number, purpose, attempt_no)
outlives the row state: if a row ever came back to ``queued`` (a restored backup, a bug, a
replayed migration), the key still says this call was placed, and it is not placed again.
The store claim happens a little ahead (a small ready buffer); the key is set right before
the Originate, so it says "this call may have been placed" (see ``engine.dialer.dispatch``).

Nodes announce themselves with a heartbeat key; attempts left in flight by a node whose
heartbeat expired are reconciled by a live node (see the service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.dialer.planner import Candidate
from engine.dialer.records import claim_rows
from engine.store.db import transaction

__all__ = ["Claims", "claim_key"]

CLAIM_TTL_S = 14 * 86400
NODE_TTL_S = 15


def claim_key(action_id: str, e164: str, purpose: str, attempt_no: int) -> str:
    # The number is hashed: Redis dumps and MONITOR output are not a place for phone numbers.
    digest = hashlib.sha256(e164.encode()).hexdigest()[:20]
    return f"bnet:dialer:claim:{action_id}:{purpose}:{attempt_no}:{digest}"


def node_key(node: str) -> str:
    return f"bnet:dialer:node:{node}"


class Claims:
    def __init__(self, factory: sessionmaker[Session], redis: Any, node: str) -> None:
        self.factory, self.redis, self.node = factory, redis, node

    def claim_rows(self, cands: Sequence[Candidate], now: datetime) -> list[Candidate]:
        """Store claim (store thread): the candidates now reserved for this node."""
        if not cands:
            return []
        with transaction(self.factory) as session:
            won = claim_rows(session, [c.attempt_id for c in cands], self.node, now)
        return [c for c in cands if c.attempt_id in won]

    async def mark_sent(
        self, aredis: Any, pairs: Sequence[tuple[Candidate, str]]
    ) -> tuple[list[Candidate], list[Candidate]]:
        """Set the claim keys right before the Originates: (may send, must never send).

        The value ``<attempt id>|<trunk>`` lets a restarted node find the call again. Async
        Redis: a blocking round trip here would stall every call's events."""
        if not pairs:
            return [], []
        keys = [claim_key(c.action_id, c.e164, c.purpose, c.attempt_no) for c, _ in pairs]
        pipe = aredis.pipeline(transaction=False)
        for key, (cand, trunk) in zip(keys, pairs, strict=True):
            pipe.set(key, f"{cand.attempt_id}|{trunk}", nx=True, ex=CLAIM_TTL_S)
        results = await pipe.execute()
        allowed = [c for (c, _), ok in zip(pairs, results, strict=True) if ok]
        taken = [(k, c) for k, (c, _), ok in zip(keys, pairs, results, strict=True) if not ok]
        dupes: list[Candidate] = []
        if taken:
            owners = await aredis.mget([k for k, _ in taken])
            for (_, cand), owner in zip(taken, owners, strict=True):
                # Our own key from before a crash between SET and the Originate: still ours.
                ours = owner is not None and _text(owner).split("|")[0] == cand.attempt_id
                (allowed if ours else dupes).append(cand)
        return allowed, dupes

    def sent_marks(self, rows: Sequence[Candidate]) -> dict[str, str | None]:
        """attempt id -> trunk for the attempts whose Originate may have been sent."""
        if not rows:
            return {}
        keys = [claim_key(c.action_id, c.e164, c.purpose, c.attempt_no) for c in rows]
        out: dict[str, str | None] = {}
        for cand, value in zip(rows, self.redis.mget(keys), strict=True):
            if value is not None:
                attempt, _, trunk = _text(value).partition("|")
                if attempt == cand.attempt_id:
                    out[cand.attempt_id] = trunk or None
        return out

    # -- node liveness ------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self.redis.set(node_key(self.node), "1", ex=NODE_TTL_S)

    def live_nodes(self) -> set[str]:
        prefix = node_key("")
        return {_text(k)[len(prefix) :] for k in self.redis.scan_iter(match=prefix + "*")}

    def leave(self) -> None:
        self.redis.delete(node_key(self.node))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
