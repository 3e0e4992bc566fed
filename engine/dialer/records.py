"""The dialer's side of the store: page queued attempts in, claim them, write results back.

Synchronous SQLAlchemy, called from a worker thread by the service, in batches: one
transaction per batch keeps SQLite and PostgreSQL far from being the bottleneck at hundreds
of calls a second. Every finished attempt becomes one dossier entry (the number only in the
personal part), retries become new ``CallAttempt`` rows, unallocated numbers are flagged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CursorResult,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from engine.actions.dossier import Entry, append_many
from engine.actions.models import Action, ActionTarget, CallAttempt
from engine.actions.models_api import ActionMessage
from engine.dialer.outcomes import FLAG_NUMBER_OUTCOMES, REACHED, NextAttempt
from engine.dialer.planner import Candidate
from engine.participants.models import Phone

__all__ = [
    "AttemptResult",
    "claim_rows",
    "due_actions",
    "load_page",
    "mask",
    "record_answered",
    "record_results",
]

ACTOR = "dialer"
#: Attempt states in which a call may still be up (what reconciliation looks at).
IN_FLIGHT = ("originating", "ringing", "answered")


def mask(e164: str) -> str:
    """``+31612345678`` -> ``+3161****678``: numbers never appear in logs in clear (and a
    malformed one cannot put control characters into a log line)."""
    clean = "".join(c for c in e164 if c in "+0123456789")
    return clean[:5] + "****" + clean[-3:] if len(clean) > 8 else "****"


def due_actions(session: Session, now: datetime) -> list[tuple[str, int]]:
    """(action id, priority) of every action with a queued attempt that is due."""
    rows = session.execute(
        select(CallAttempt.action_id, func.max(CallAttempt.priority))
        .where(CallAttempt.state == "queued", CallAttempt.due_at <= now)
        .group_by(CallAttempt.action_id)
    ).all()
    return [(str(a), int(p)) for a, p in rows]


def load_page(
    session: Session,
    action_id: str,
    cursor: tuple[int, str] | None,
    limit: int,
    now: datetime,
) -> list[Candidate]:
    """Due queued attempts of one action after ``cursor``, nearest first."""
    stmt = select(
        CallAttempt.rank,
        CallAttempt.attempt_no,
        CallAttempt.id,
        CallAttempt.e164,
        CallAttempt.purpose,
        CallAttempt.trunk,
    ).where(
        CallAttempt.action_id == action_id,
        CallAttempt.state == "queued",
        CallAttempt.due_at <= now,
    )
    if cursor is not None:
        rank, last_id = cursor
        stmt = stmt.where(
            or_(
                CallAttempt.rank > rank,
                and_(CallAttempt.rank == rank, CallAttempt.id > last_id),
            )
        )
    stmt = stmt.order_by(CallAttempt.rank, CallAttempt.id).limit(limit)
    return [
        # A queued row with a trunk set is a congestion retry: try another trunk first.
        Candidate(int(r), int(n), str(i), action_id, str(e), str(p), t)
        for r, n, i, e, p, t in session.execute(stmt).all()
    ]


@dataclass(frozen=True, slots=True)
class ActionMeta:
    kind: str
    state: str
    priority: int
    audio_hash: str | None
    #: Rendered audio of the update/outcome messages, by CallAttempt.purpose.
    messages: dict[str, str | None] = field(default_factory=dict)

    def audio_for(self, purpose: str) -> str | None:
        # An update or outcome call must carry its own message, never the alert's.
        return self.audio_hash if purpose == "alert" else self.messages.get(purpose)


def action_meta(session: Session, action_ids: Iterable[str]) -> dict[str, ActionMeta]:
    ids = list(action_ids)
    rows = session.execute(
        select(Action.id, Action.kind, Action.state, Action.priority, Action.audio_hash).where(
            Action.id.in_(ids)
        )
    ).all()
    messages: dict[str, dict[str, str | None]] = {}
    for a_id, purpose, audio in session.execute(
        select(ActionMessage.action_id, ActionMessage.purpose, ActionMessage.audio_hash).where(
            ActionMessage.action_id.in_(ids)
        )
    ):
        messages.setdefault(str(a_id), {})[str(purpose)] = audio
    return {
        str(i): ActionMeta(str(k), str(s), int(p), h, messages.get(str(i), {}))
        for i, k, s, p, h in rows
    }


def claim_rows(session: Session, ids: Sequence[str], node: str, now: datetime) -> set[str]:
    """queued -> originating for the attempts no other node took first (atomic per row)."""
    if not ids:
        return set()
    stmt = (
        update(CallAttempt)
        .where(CallAttempt.id.in_(ids), CallAttempt.state == "queued")
        .values(state="originating", claimed_by=node, originated_at=now)
        .returning(CallAttempt.id)
    )
    return {str(i) for i in session.execute(stmt).scalars().all()}


def release_rows(session: Session, ids: Sequence[str], node: str, state: str) -> None:
    """Give back claimed attempts that were never sent (to ``queued`` or ``cancelled``)."""
    if ids:
        session.execute(
            update(CallAttempt)
            .where(
                CallAttempt.id.in_(ids),
                CallAttempt.state == "originating",
                CallAttempt.claimed_by == node,
            )
            .values(state=state, claimed_by=None, originated_at=None)
        )


def in_flight(session: Session, nodes: Iterable[str] | None) -> list[CallAttempt]:
    """Attempts that may still have a call up, claimed by the given nodes (None: any)."""
    stmt = select(CallAttempt).where(CallAttempt.state.in_(IN_FLIGHT))
    if nodes is not None:
        stmt = stmt.where(CallAttempt.claimed_by.in_(list(nodes)))
    return list(session.scalars(stmt).all())


@dataclass(frozen=True, slots=True)
class Answered:
    attempt_id: str
    action_id: str
    at: datetime


def record_answered(session: Session, items: Sequence[Answered]) -> None:
    """Mark attempts answered and their targets reached by voice (first channel wins)."""
    if not items:
        return
    conn = session.connection()
    conn.execute(
        update(CallAttempt)
        .where(
            CallAttempt.id == bindparam("aid"),
            # No IN (...): expanding parameters cannot be used in an executemany.
            or_(*(CallAttempt.state == literal(s) for s in IN_FLIGHT)),
        )
        .values(state="answered", answered_at=bindparam("at")),
        [{"aid": i.attempt_id, "at": i.at} for i in items],
    )
    stmt = select(CallAttempt.id, CallAttempt.target_id).where(
        CallAttempt.id.in_([i.attempt_id for i in items])
    )
    targets = {str(a): int(t) for a, t in session.execute(stmt).all()}
    reach = [{"tid": targets[i.attempt_id], "at": i.at} for i in items if i.attempt_id in targets]
    if reach:
        conn.execute(
            update(ActionTarget)
            .where(ActionTarget.id == bindparam("tid"), ActionTarget.reached_by.is_(None))
            .values(reached_by="voice", reached_at=bindparam("at")),
            reach,
        )


@dataclass(slots=True)
class AttemptResult:
    attempt_id: str
    action_id: str
    e164: str
    outcome: str
    ended_at: datetime
    trunk: str | None = None
    cause: int | None = None
    dial_status: str | None = None
    digits: str = ""
    amd: str | None = None
    answered_at: datetime | None = None
    menu_choice: str = ""
    retry: NextAttempt | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_ROW_COLUMNS = (
    CallAttempt.id,
    CallAttempt.action_id,
    CallAttempt.target_id,
    CallAttempt.e164,
    CallAttempt.purpose,
    CallAttempt.attempt_no,
    CallAttempt.rank,
    CallAttempt.priority,
    CallAttempt.state,
    CallAttempt.outcome,
    CallAttempt.trunk,
)


def record_results(session: Session, results: Sequence[AttemptResult]) -> list[str]:
    """Write finished attempts, their dossier entries, retries and flags; returns retry ids.

    Bulk statements throughout: this runs for hundreds of calls a second."""
    if not results:
        return []
    ids = [r.attempt_id for r in results]
    rows = {r.id: r for r in session.execute(select(*_ROW_COLUMNS).where(CallAttempt.id.in_(ids)))}
    live = running_actions(session, {r.action_id for r in results})
    fresh: list[tuple[Any, AttemptResult]] = []
    for res in results:
        row = rows.get(res.attempt_id)
        if row is None or (row.state in ("done", "cancelled") and row.outcome is not None):
            continue  # already written (a duplicate result after a reconcile)
        fresh.append((row, res))
    if not fresh:
        return []
    session.execute(update(CallAttempt), [_finished(row, res) for row, res in fresh])
    record_answered(
        session,
        [
            Answered(row.id, row.action_id, res.answered_at)
            for row, res in fresh
            if res.outcome in REACHED and res.answered_at is not None
        ],
    )
    entries: dict[str, list[Entry]] = {}
    for row, res in fresh:
        entries.setdefault(row.action_id, []).append(_dossier_entry(row, res))
        if res.outcome in FLAG_NUMBER_OUTCOMES:
            _flag_number(session, row, res.ended_at, entries[row.action_id])
    for action_id, items in entries.items():
        append_many(session, action_id, items, actor=ACTOR)
    retries = [
        _retry_row(row, res.retry, res.ended_at)
        for row, res in fresh
        if res.retry is not None and row.action_id in live
    ]
    if retries:
        session.execute(insert(CallAttempt), retries)
    return [r["id"] for r in retries]


def running_actions(session: Session, action_ids: set[str]) -> set[str]:
    rows = session.execute(
        select(Action.id).where(Action.id.in_(action_ids), Action.state == "running")
    ).scalars()
    return {str(r) for r in rows}


def _finished(row: Any, res: AttemptResult) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": row.id,
        "state": "cancelled" if res.outcome == "cancelled" else "done",
        "outcome": res.outcome,
        "ended_at": res.ended_at,
        "hangup_cause": res.cause,
        "dial_status": res.dial_status,
        "dtmf": res.digits[:20],
        "amd_status": res.amd,
        "trunk": res.trunk or row.trunk,
    }
    if res.answered_at is not None:
        values["answered_at"] = res.answered_at
    return values


def _dossier_entry(row: Any, res: AttemptResult) -> Entry:
    data: dict[str, Any] = {
        "attempt_id": row.id,
        "target_id": row.target_id,
        "purpose": row.purpose,
        "attempt_no": row.attempt_no,
        "outcome": res.outcome,
        "trunk": res.trunk,
        "hangup_cause": res.cause,
        "dial_status": res.dial_status,
        "menu_choice": res.menu_choice or None,
        "amd": res.amd,
        "retry_in_s": res.retry.delay_s if res.retry else None,
        **res.extra,
    }
    clean = {k: v for k, v in data.items() if v is not None}
    return ("call_attempt", clean, {"e164": row.e164})


def _flag_number(session: Session, row: Any, at: datetime, entries: list[Entry]) -> None:
    """Unallocated number: relatiebeheer sees it flagged and selection skips it from now on."""
    result = session.execute(
        update(Phone)
        .where(Phone.e164 == row.e164, Phone.invalid_since.is_(None))
        .values(invalid_since=at)
    )
    if isinstance(result, CursorResult) and result.rowcount:
        data = {"target_id": row.target_id, "reason": "unallocated number"}
        entries.append(("number_flagged", data, {"e164": row.e164}))


def _retry_row(row: Any, nxt: NextAttempt, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "action_id": row.action_id,
        "target_id": row.target_id,
        "e164": row.e164,
        "purpose": row.purpose,
        "attempt_no": nxt.attempt_no,
        "rank": row.rank,
        "priority": row.priority,
        "state": "queued",
        "due_at": now + timedelta(seconds=nxt.delay_s),
        "trunk": nxt.avoid_trunk,
        "dtmf": "",
    }
