"""The action dossier: append-only, every entry hash-chained to the previous one of its action.

Personal fields (numbers, names, addresses) are kept apart from the rest of an entry and only
their hash enters the chain, so erasing a participant can pseudonymise them while
``verify`` still proves that nothing else was edited, removed or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.actions.models import DossierEntry
from engine.store.base import utcnow

GENESIS = "0" * 64
_MAX_RETRIES = 20


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _ts(at: datetime) -> str:
    # SQLite hands datetimes back naive: they were stored as UTC, so read them as UTC.
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def personal_digest(personal: dict[str, Any] | None) -> str:
    return "" if not personal else hashlib.sha256(canonical(personal).encode()).hexdigest()


def entry_hash(
    *,
    prev_hash: str,
    action_id: str,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    data: dict[str, Any],
    personal_hash: str,
) -> str:
    body = canonical(
        {
            "action_id": action_id,
            "seq": seq,
            "at": _ts(at),
            "actor": actor,
            "kind": kind,
            "data": data,
            "personal_hash": personal_hash,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


#: One entry to append: (kind, data, personal).
Entry = tuple[str, dict[str, Any], dict[str, Any] | None]


def _head(session: Session, action_id: str) -> tuple[int, str]:
    last = session.execute(
        select(DossierEntry.seq, DossierEntry.hash)
        .where(DossierEntry.action_id == action_id)
        .order_by(DossierEntry.seq.desc())
        .limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


def _chain(action_id: str, actor: str, entries: Sequence[Entry], seq: int,
           prev: str) -> list[dict[str, Any]]:
    rows = []
    for kind, data, personal in entries:
        seq += 1
        at = utcnow()
        p_hash = personal_digest(personal)
        digest = entry_hash(prev_hash=prev, action_id=action_id, seq=seq, at=at, actor=actor,
                            kind=kind, data=data, personal_hash=p_hash)
        rows.append({"action_id": action_id, "seq": seq, "at": at, "actor": actor,
                     "kind": kind, "data": data, "personal": personal or None,
                     "personal_hash": p_hash, "prev_hash": prev, "hash": digest,
                     "pseudonymised": False})
        prev = digest
    return rows


def append(
    session: Session,
    action_id: str,
    *,
    actor: str,
    kind: str,
    data: dict[str, Any],
    personal: dict[str, Any] | None = None,
) -> DossierEntry:
    """Append one entry; safe when several processes append to the same action at once."""
    for _ in range(_MAX_RETRIES):
        seq, prev = _head(session, action_id)
        entry = DossierEntry(**_chain(action_id, actor, [(kind, data, personal)], seq, prev)[0])
        try:
            with session.begin_nested():
                session.add(entry)
                session.flush()
            return entry
        except IntegrityError:
            # Another writer took this seq first: re-read the chain head and try again.
            continue
    raise RuntimeError(f"dossier append for {action_id} kept colliding")


def append_many(session: Session, action_id: str, entries: Sequence[Entry], *,
                actor: str) -> None:
    """Append many entries with one head read and one insert (the dialer writes hundreds a
    second); a concurrent writer makes the unique (action_id, seq) refuse the batch, which is
    then rebuilt on the new head."""
    if not entries:
        return
    for _ in range(_MAX_RETRIES):
        seq, prev = _head(session, action_id)
        rows = _chain(action_id, actor, entries, seq, prev)
        try:
            with session.begin_nested():
                session.execute(insert(DossierEntry), rows)
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"dossier batch for {action_id} kept colliding")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify(session: Session, action_id: str) -> VerifyResult:
    rows = session.scalars(
        select(DossierEntry).where(DossierEntry.action_id == action_id).order_by(DossierEntry.seq)
    ).all()
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        problem = _check_entry(row, expected_seq, prev)
        if problem:
            return VerifyResult(False, len(rows), row.seq, problem)
        prev = row.hash
    return VerifyResult(True, len(rows))


def _check_entry(row: DossierEntry, expected_seq: int, prev: str) -> str:
    if row.seq != expected_seq:
        return f"entry {expected_seq} is missing"
    if row.prev_hash != prev:
        return "link to the previous entry is broken"
    if not row.pseudonymised and personal_digest(row.personal) != row.personal_hash:
        return "personal data was changed"
    recomputed = entry_hash(
        prev_hash=row.prev_hash,
        action_id=row.action_id,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        data=row.data,
        personal_hash=row.personal_hash,
    )
    return "" if recomputed == row.hash else "entry content was changed"


def pseudonymise(session: Session, match: dict[str, Any], replacement: str) -> int:
    """Pseudonymise every entry whose personal fields contain a ``match`` value (all of that
    entry's personal fields); returns the number of entries changed.

    The chain stays verifiable because only ``personal`` changes; ``personal_hash`` (in the
    chain) keeps proving what was there without revealing it.
    """
    changed = 0
    targets = {str(v) for v in match.values() if v}
    stmt = select(DossierEntry).where(DossierEntry.personal.is_not(None))
    for row in session.scalars(stmt):
        personal = dict(row.personal or {})
        # Every personal field of an entry is about one person: once a value identifies the
        # erased participant, the rest (a name, a caller label) goes too.
        if any(str(value) in targets for value in personal.values()):
            row.personal = dict.fromkeys(personal, replacement)
            row.pseudonymised = True
            changed += 1
    session.flush()
    return changed


def count(session: Session, action_id: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(DossierEntry).where(
                DossierEntry.action_id == action_id
            )
        )
        or 0
    )
