"""What happens after an action change is committed: wakes, progress, RQ jobs.

Rows are the truth; these messages only make the services look sooner. They are sent after
the commit (a consumer woken before it could not see the rows) and a Redis failure is logged,
not raised: the services also poll.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from engine.actions import progress

log = logging.getLogger(__name__)

DIALER_WAKE = "bnet:dialer:wake"
DIALER_CANCEL = "bnet:dialer:cancel"
SMS_WAKE = "bnet:sms:wake"
SMS_CANCEL = "bnet:sms:cancel"


@dataclass
class Effects:
    action_id: str
    progress: dict[str, Any]
    wake_dialer: bool = False
    wake_sms: bool = False
    cancel: dict[str, Any] | None = None
    render_audio: bool = False
    email_ids: list[int] = field(default_factory=list)
    #: The wave covers only the nearest people so far; the rest of the area follows after
    #: the commit (see actions.deferred).
    rest_of_area: bool = False


def dispatch(redis: Any, queue: Any, effects: Effects) -> None:
    try:
        _publish(redis, effects)
    except Exception as exc:
        log.warning("could not publish for action %s: %s", effects.action_id, exc)
    try:
        _enqueue(queue, effects)
    except Exception as exc:
        log.warning("could not enqueue jobs for action %s: %s", effects.action_id, exc)


def _publish(redis: Any, effects: Effects) -> None:
    if redis is None:
        return
    if effects.cancel is not None:
        message = json.dumps({"action_id": effects.action_id, **effects.cancel})
        redis.publish(DIALER_CANCEL, message)
        redis.publish(SMS_CANCEL, message)
    if effects.wake_dialer:
        redis.publish(DIALER_WAKE, effects.action_id)
    if effects.wake_sms:
        redis.publish(SMS_WAKE, effects.action_id)
    progress.publish(redis, effects.action_id, effects.progress)


def _enqueue(queue: Any, effects: Effects) -> None:
    if queue is None:
        return
    if effects.render_audio:
        queue.enqueue("rq_workers.actions.render_action_audio", effects.action_id)
    for email_id in effects.email_ids:
        queue.enqueue("rq_workers.mail.send_email", email_id)
