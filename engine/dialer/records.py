"""The dialer's side of the store: page queued attempts in, claim them, write results back.

Synchronous SQLAlchemy, called from a worker thread by the service, in batches: one
transaction per batch keeps SQLite and PostgreSQL far from being the bottleneck at hundreds
of calls a second. Every finished attempt becomes one dossier entry (the number only in the
personal part), retries become new ``CallAttempt`` rows, unallocated numbers are flagged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import Action, ActionTarget, CallAttempt
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
    """``+31612345678`` -> ``+3161****678``: numbers never appear in logs in clear."""
    return e164[:5] + "****" + e164[-3:] if len(e164) > 8 else "****"


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


def action_meta(session: Session, action_ids: Iterable[str]) -> dict[str, ActionMeta]:
    rows = session.execute(
        select(Action.id, Action.kind, Action.state, Action.priority, Action.audio_hash).where(
            Action.id.in_(list(action_ids))
        )
    ).all()
    return {str(i): ActionMeta(str(k), str(s), int(p), h) for i, k, s, p, h in rows}


def claim_rows(
    session: Session, trunk_of: Mapping[str, str], node: str, now: datetime
) -> set[str]:
    """queued -> originating (with the trunk it goes out on) for the attempts no other node
    took first; atomic per row. The trunk is stored now so a restarted node can find the call."""
    won: set[str] = set()
    by_trunk: dict[str, list[str]] = {}
    for attempt_id, trunk in trunk_of.items():
        by_trunk.setdefault(trunk, []).append(attempt_id)
    for trunk, ids in by_trunk.items():
        stmt = (
            update(CallAttempt)
            .where(CallAttempt.id.in_(ids), CallAttempt.state == "queued")
            .values(state="originating", claimed_by=node, originated_at=now, trunk=trunk)
            .returning(CallAttempt.id)
        )
        won |= {str(i) for i in session.execute(stmt).scalars().all()}
    return won


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
    for item in items:
        session.execute(
            update(CallAttempt)
            .where(CallAttempt.id == item.attempt_id, CallAttempt.state.in_(IN_FLIGHT))
            .values(state="answered", answered_at=item.at)
        )
        target = select(CallAttempt.target_id).where(CallAttempt.id == item.attempt_id)
        session.execute(
            update(ActionTarget)
            .where(ActionTarget.id == target.scalar_subquery(), ActionTarget.reached_by.is_(None))
            .values(reached_by="voice", reached_at=item.at)
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


def record_results(session: Session, results: Sequence[AttemptResult]) -> list[str]:
    """Write finished attempts, their dossier entries, retries and flags; returns retry ids."""
    if not results:
        return []
    by_id = {
        a.id: a
        for a in session.scalars(
            select(CallAttempt).where(CallAttempt.id.in_([r.attempt_id for r in results]))
        )
    }
    live = _running_actions(session, {r.action_id for r in results})
    retry_ids: list[str] = []
    for res in results:
        row = by_id.get(res.attempt_id)
        if row is None or (row.state in ("done", "cancelled") and row.outcome is not None):
            continue  # already written (a duplicate result after a reconcile)
        _finish_row(row, res)
        if res.outcome in REACHED and res.answered_at is not None:
            record_answered(session, [Answered(row.id, row.action_id, res.answered_at)])
        _dossier_entry(session, row, res)
        if res.outcome in FLAG_NUMBER_OUTCOMES:
            _flag_number(session, row, res.ended_at)
        if res.retry is not None and row.action_id in live:
            retry_ids.append(_insert_retry(session, row, res.retry, res.ended_at))
    return retry_ids


def _running_actions(session: Session, action_ids: set[str]) -> set[str]:
    rows = session.execute(
        select(Action.id).where(Action.id.in_(action_ids), Action.state == "running")
    ).scalars()
    return {str(r) for r in rows}


def _finish_row(row: CallAttempt, res: AttemptResult) -> None:
    row.state = "cancelled" if res.outcome == "cancelled" else "done"
    row.outcome = res.outcome
    row.ended_at = res.ended_at
    row.hangup_cause = res.cause
    row.dial_status = res.dial_status
    row.dtmf = res.digits[:20]
    row.amd_status = res.amd
    row.trunk = res.trunk or row.trunk
    if res.answered_at is not None:
        row.answered_at = res.answered_at


def _dossier_entry(session: Session, row: CallAttempt, res: AttemptResult) -> None:
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
    dossier.append(
        session,
        row.action_id,
        actor=ACTOR,
        kind="call_attempt",
        data={k: v for k, v in data.items() if v is not None},
        personal={"e164": row.e164},
    )


def _flag_number(session: Session, row: CallAttempt, at: datetime) -> None:
    """Unallocated number: relatiebeheer sees it flagged and selection skips it from now on."""
    result = session.execute(
        update(Phone)
        .where(Phone.e164 == row.e164, Phone.invalid_since.is_(None))
        .values(invalid_since=at)
    )
    if isinstance(result, CursorResult) and result.rowcount:
        dossier.append(
            session,
            row.action_id,
            actor=ACTOR,
            kind="number_flagged",
            data={"target_id": row.target_id, "reason": "unallocated number"},
            personal={"e164": row.e164},
        )


def _insert_retry(session: Session, row: CallAttempt, nxt: NextAttempt, now: datetime) -> str:
    retry = CallAttempt(
        id=uuid.uuid4().hex,
        action_id=row.action_id,
        target_id=row.target_id,
        e164=row.e164,
        purpose=row.purpose,
        attempt_no=nxt.attempt_no,
        rank=row.rank,
        priority=row.priority,
        state="queued",
        due_at=now + timedelta(seconds=nxt.delay_s),
        trunk=nxt.avoid_trunk,
        dtmf="",
    )
    session.add(retry)
    return retry.id
