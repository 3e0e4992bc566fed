"""Live progress from the IVR: best effort, the store rows stay the truth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: ``notify(action_id, payload)``, e.g. a wrapper around ``engine.actions.progress.publish``.
Notify = Callable[[str, dict[str, Any]], None]


async def notify_progress(notify: Notify | None, action_id: str, payload: dict[str, Any]) -> None:
    """Publish without blocking the call; a dead Redis only delays the live view."""
    if notify is None:
        return
    try:
        await asyncio.to_thread(notify, action_id, payload)
    except Exception as exc:
        log.warning("progress notify for %s failed: %s", action_id[:12], exc)
