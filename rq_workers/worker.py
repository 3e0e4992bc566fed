"""``bnet worker``: an RQ worker on the engine's queues (render jobs, e-mail)."""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis
from rq import Queue, Worker

from engine.config import Settings

DEFAULT_QUEUES: tuple[str, ...] = ("bnet", "mail")


def run_worker(settings: Settings, queues: Sequence[str] = DEFAULT_QUEUES, *,
               burst: bool = False) -> bool:
    """Work jobs until stopped (or, with ``burst``, until the queues are empty)."""
    connection = Redis.from_url(settings.redis.url)
    try:
        worker = Worker([Queue(name, connection=connection) for name in queues],
                        connection=connection)
        return bool(worker.work(burst=burst, with_scheduler=not burst))
    finally:
        connection.close()
