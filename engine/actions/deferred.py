"""The second step of a large fan-out: the rest of the area after the nearest people.

``start_action``/``expand_action`` write only the nearest people in their transaction; right
after the commit, in the same request, :func:`finish` selects the whole area without the
numbers already targeted and writes them as the continuation of the same wave, in chunks of
their own transactions so the store's write lock is never held for long (the dialer writes
call results meanwhile). If that fails (store busy, process killed), the RQ job
``rq_workers.actions.complete_fanout`` does the same later: nobody is missed and, thanks to
the exclusion and the unique (action, number) key, nobody is reached twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.context import ActionContext
from engine.actions.effects import Effects, dispatch
from engine.actions.fanout import write_wave
from engine.actions.models import Action
from engine.actions.service import record_selection, select_new, sms_segments, stored_area
from engine.store.db import transaction

log = logging.getLogger(__name__)

#: Targets per transaction in the second step (~3 rows each with their calls and SMS).
REST_CHUNK = 2000


def complete_area(factory: sessionmaker[Session], ctx: ActionContext, action_id: str
                  ) -> tuple[dict[str, Any] | None, Effects | None]:
    """Write the rest of a running action's area; (counts, effects), or Nones if stopped."""
    with transaction(factory) as session:
        action = session.get(Action, action_id)
        if action is None or action.state != "running":
            return None, None
        area = stored_area(action)
        selection = select_new(session, ctx, action, area)
        entries, by_pc4 = list(selection.entries), dict(selection.count_by_pc4)
    totals = {"wave": 0, "targets": 0, "calls": 0, "sms": 0, "skipped": 0}
    for start in range(0, len(entries), REST_CHUNK):
        with transaction(factory) as session:
            action = session.get(Action, action_id)
            if action is None or action.state != "running":
                break  # cancelled or closed meanwhile: write no more work
            result = write_wave(session, action, entries[start:start + REST_CHUNK],
                                now=ctx.now, sms_segments=sms_segments(ctx, action),
                                continue_wave=True)
        for key, value in result.as_dict().items():
            totals[key] = value if key == "wave" else totals[key] + value
    with transaction(factory) as session:
        action = session.get(Action, action_id)
        if action is None:
            return None, None
        wave = record_selection(session, ctx, action, area, totals, by_pc4=by_pc4, part="rest")
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
