"""The second step of a large fan-out: the rest of the area after the nearest people.

``start_action`` selects and writes only the inner circle in the creating transaction; right
after the commit, in the same request, :func:`finish` selects the whole area without the
numbers already targeted and writes them as the continuation of the same wave. If that fails
(store busy, process killed), the RQ job ``rq_workers.actions.complete_fanout`` does the same
later: nobody is missed and, thanks to the exclusion and the unique (action, number) key,
nobody is reached twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.context import ActionContext
from engine.actions.effects import Effects, dispatch
from engine.actions.models import Action
from engine.actions.service import select_wave, stored_area
from engine.store.db import transaction

log = logging.getLogger(__name__)


def complete_area(factory: sessionmaker[Session], ctx: ActionContext, action_id: str
                  ) -> tuple[dict[str, Any] | None, Effects | None]:
    """Write the rest of a running action's area; (counts, effects), or Nones if stopped."""
    with transaction(factory) as session:
        action = session.get(Action, action_id)
        if action is None or action.state != "running":
            return None, None
        wave = select_wave(session, ctx, action, stored_area(action), part="rest")
    effects = Effects(action_id, {"kind": "fanout_completed", **wave},
                      wake_dialer=wave["calls"] > 0, wake_sms=wave["sms"] > 0)
    return wave, effects


def finish(factory: sessionmaker[Session], ctx: ActionContext, redis: Any, queue: Any,
           effects: Effects) -> dict[str, Any] | None:
    """Dispatch ``effects``, then write the rest of the area if they ask for it.

    Returns the counts of the second step (None when there was none or it was deferred).
    """
    dispatch(redis, queue, effects)
    if not effects.rest_of_area:
        return None
    try:
        wave, follow = complete_area(factory, ctx, effects.action_id)
    except SQLAlchemyError as exc:
        log.error("fan-out of action %s incomplete (%s); queued complete_fanout",
                  effects.action_id, type(exc).__name__)
        if queue is not None:
            queue.enqueue("rq_workers.actions.complete_fanout", effects.action_id)
        return None
    if follow is not None:
        dispatch(redis, queue, follow)
    return wave
