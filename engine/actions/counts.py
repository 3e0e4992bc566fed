"""Live counts of one action, recomputed from the rows (what the SSE stream sends).

Counting uses timestamps and a few terminal states rather than every intermediate state name,
so the dialer and SMS services can refine their states without breaking the progress view.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.actions.models import Action, ActionTarget, CallAttempt, InboundCall, SmsMessage

_SMS_SENT = ("submitted", "delivered")
_CALL_WAITING = ("queued",)
_CALL_OVER = ("cancelled",)


def action_counts(session: Session, action_id: str) -> dict[str, Any]:
    state = session.scalar(select(Action.state).where(Action.id == action_id))
    selected = session.scalar(select(func.count()).select_from(ActionTarget)
                              .where(ActionTarget.action_id == action_id)) or 0
    calls = _call_counts(session, action_id)
    texts = _sms_counts(session, action_id)
    callbacks = session.scalar(select(func.count()).select_from(InboundCall)
                               .where(InboundCall.action_id == action_id)) or 0
    return {"action_id": action_id, "state": state, "selected": int(selected), **calls,
            **texts, "callbacks": int(callbacks)}


def _call_counts(session: Session, action_id: str) -> dict[str, int]:
    c = CallAttempt
    waiting = c.state.in_(_CALL_WAITING)
    row = session.execute(
        select(
            func.count(),
            func.sum(case((waiting, 1), else_=0)),
            func.sum(case((~waiting & ~c.state.in_(_CALL_OVER) & c.ended_at.is_(None)
                           & c.answered_at.is_(None), 1), else_=0)),
            func.sum(case((c.answered_at.is_not(None), 1), else_=0)),
            func.sum(case((c.ended_at.is_not(None) & c.answered_at.is_(None)
                           & ~c.state.in_(_CALL_OVER), 1), else_=0)),
            func.sum(case((c.state.in_(_CALL_OVER), 1), else_=0)),
        ).where(c.action_id == action_id)
    ).one()
    total, queued, calling, answered, failed, cancelled = (int(v or 0) for v in row)
    return {"calls": total, "queued": queued, "calling": calling, "answered": answered,
            "failed": failed, "calls_cancelled": cancelled}


def _sms_counts(session: Session, action_id: str) -> dict[str, int]:
    s = SmsMessage
    row = session.execute(
        select(
            func.count(),
            func.sum(case((s.state.in_(_SMS_SENT), 1), else_=0)),
            func.sum(case((s.state == "delivered", 1), else_=0)),
            func.sum(case((s.state == "failed", 1), else_=0)),
        ).where(s.action_id == action_id)
    ).one()
    total, sent, delivered, failed = (int(v or 0) for v in row)
    return {"sms": total, "sms_sent": sent, "sms_delivered": delivered, "sms_failed": failed}
