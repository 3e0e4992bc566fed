"""The second step of a large fan-out: the planned targets the creating transaction left.

Runs right after the commit in the same request. If it fails (store busy, process killed),
the RQ job ``rq_workers.actions.complete_fanout`` re-selects the action's area without the
numbers already targeted, so nobody is missed and nobody is reached twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import compose, dossier
from engine.actions.effects import Effects, dispatch
from engine.actions.fanout import write_rows
from engine.actions.models import Action, ActionTarget
from engine.config import Settings
from engine.store.base import utcnow
from engine.store.db import transaction

log = logging.getLogger(__name__)


def write_deferred(factory: sessionmaker[Session], settings: Settings, action_id: str,
                   rows: list[dict[str, Any]], *, actor: str) -> Effects | None:
    """Write ``rows`` (with their calls/SMS) unless the action stopped meanwhile."""
    with transaction(factory) as session:
        action = session.get(Action, action_id)
        if action is None or action.state != "running":
            return None
        done = session.scalar(select(func.max(ActionTarget.rank)).where(
            ActionTarget.action_id == action_id, ActionTarget.wave == rows[0]["wave"])) or 0
        rest = [r for r in rows if r["rank"] > done]
        plan = compose.plan_sms(action.sms_text, settings.actions.sms_max_segments)
        calls, texts = write_rows(session, action, rest, now=utcnow(),
                                  sms_segments=plan.segments)
        dossier.append(session, action_id, actor=actor, kind="fanout_completed",
                       data={"wave": rows[0]["wave"], "targets": len(rest), "calls": calls,
                             "sms": texts})
    return Effects(action_id, {"kind": "fanout_completed"}, wake_dialer=calls > 0,
                   wake_sms=texts > 0)


def finish(factory: sessionmaker[Session], settings: Settings, redis: Any, queue: Any,
           effects: Effects, *, actor: str) -> None:
    """Dispatch ``effects``, then write what they deferred (or leave it to an RQ job)."""
    dispatch(redis, queue, effects)
    if not effects.deferred:
        return
    try:
        follow = write_deferred(factory, settings, effects.action_id, effects.deferred,
                                actor=actor)
    except SQLAlchemyError as exc:
        log.error("fan-out of action %s incomplete (%s); queued complete_fanout",
                  effects.action_id, type(exc).__name__)
        if queue is not None:
            queue.enqueue("rq_workers.actions.complete_fanout", effects.action_id)
        return
    if follow is not None:
        dispatch(redis, queue, follow)
