"""Append many entries to one action's dossier in one go (the dialer writes hundreds a second).

Same chain as ``engine.actions.dossier.append`` (same hash, same fields, one entry per call
attempt), but the chain head is read once per batch and the entries are inserted together.
If another writer appended in between, the unique (action_id, seq) constraint refuses the
batch and it is rebuilt on the new head.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.actions.dossier import GENESIS, entry_hash, personal_digest
from engine.actions.models import DossierEntry
from engine.store.base import utcnow

__all__ = ["Entry", "append_many"]

#: (kind, data, personal)
Entry = tuple[str, dict[str, Any], dict[str, Any] | None]
_MAX_RETRIES = 20


def append_many(session: Session, action_id: str, entries: Sequence[Entry], *, actor: str) -> None:
    if not entries:
        return
    for _ in range(_MAX_RETRIES):
        last = session.execute(
            select(DossierEntry.seq, DossierEntry.hash)
            .where(DossierEntry.action_id == action_id)
            .order_by(DossierEntry.seq.desc())
            .limit(1)
        ).first()
        seq, prev = (last[0], last[1]) if last else (0, GENESIS)
        rows = []
        for kind, data, personal in entries:
            seq += 1
            at = utcnow()
            p_hash = personal_digest(personal)
            digest = entry_hash(
                prev_hash=prev,
                action_id=action_id,
                seq=seq,
                at=at,
                actor=actor,
                kind=kind,
                data=data,
                personal_hash=p_hash,
            )
            rows.append(
                {
                    "action_id": action_id,
                    "seq": seq,
                    "at": at,
                    "actor": actor,
                    "kind": kind,
                    "data": data,
                    "personal": personal or None,
                    "personal_hash": p_hash,
                    "prev_hash": prev,
                    "hash": digest,
                    "pseudonymised": False,
                }
            )
            prev = digest
        try:
            with session.begin_nested():
                session.execute(insert(DossierEntry), rows)
            return
        except IntegrityError:
            continue  # another writer took these seqs: rebuild on the new head
    raise RuntimeError(f"dossier batch for {action_id} kept colliding")
