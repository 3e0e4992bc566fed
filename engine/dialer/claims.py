"""Exactly once: an attempt is claimed in the store and in Redis before its Originate is sent.

The store's conditional update (``queued`` -> ``originating``, ``claimed_by`` = node) is the
atomic claim between dialer nodes. The Redis key per (action, number, purpose, attempt_no)
outlives the row state: if a row ever came back to ``queued`` (a restored backup, a bug, a
replayed migration), the key still says this call was placed, and it is not placed again.
The key's value is the attempt id, so a node that crashed between setting the key and
committing its claim (no Originate is sent before the commit) may take its own key again.

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
from engine.dialer.records import AttemptResult, claim_rows, record_results
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

    def claim(
        self, cands: Sequence[Candidate], trunks: Sequence[str], now: datetime
    ) -> list[Candidate]:
        """The candidates this node may call now (``trunks[i]`` carries ``cands[i]``); the
        others must not be called by anyone."""
        if not cands:
            return []
        trunk_of = {c.attempt_id: t for c, t in zip(cands, trunks, strict=True)}
        with transaction(self.factory) as session:
            won = claim_rows(session, trunk_of, self.node, now)
            mine = [c for c in cands if c.attempt_id in won]
            allowed, dupes = self._redis_claim(mine)
            if dupes:
                # Someone placed this very call before: close the row instead of calling.
                record_results(
                    session,
                    [
                        AttemptResult(c.attempt_id, c.action_id, c.e164, "duplicate", now)
                        for c in dupes
                    ],
                )
        return allowed

    def _redis_claim(self, cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        if not cands:
            return [], []
        keys = [claim_key(c.action_id, c.e164, c.purpose, c.attempt_no) for c in cands]
        pipe = self.redis.pipeline(transaction=False)
        for key, cand in zip(keys, cands, strict=True):
            pipe.set(key, cand.attempt_id, nx=True, ex=CLAIM_TTL_S)
        results = pipe.execute()
        allowed = [c for c, ok in zip(cands, results, strict=True) if ok]
        taken = [(k, c) for k, c, ok in zip(keys, cands, results, strict=True) if not ok]
        dupes: list[Candidate] = []
        if taken:
            owners = self.redis.mget([k for k, _ in taken])
            for (_, cand), owner in zip(taken, owners, strict=True):
                ours = owner is not None and _text(owner) == cand.attempt_id
                (allowed if ours else dupes).append(cand)
        return allowed, dupes

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
