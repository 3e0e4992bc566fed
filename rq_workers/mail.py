"""RQ jobs for e-mail: take a row ID, open connections from settings, call engine.mail.

Enqueue with :func:`enqueue_send` so a temporary failure (4xx, relay down) is retried with the
configured backoff. Rerunning a job is harmless: only a ``queued`` row is ever sent.
"""

from __future__ import annotations

import smtplib
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.job import Job

from engine.config import Settings, load_settings
from engine.mail.errors import TemporaryMailError
from engine.mail.ratelimit import RedisWindowLimiter
from engine.mail.sender import SmtpFactory, SmtpSender
from engine.mail.service import MailContext
from engine.mail.service import send_email as send_one
from engine.mail.settings import MailSettings
from engine.store.db import make_engine, make_sessionmaker

QUEUE = "mail"


def send_email(email_id: int) -> str:
    """The job: send e-mail row ``email_id``; returns its state afterwards."""
    return run_send_email(email_id, load_settings())


def run_send_email(
    email_id: int, settings: Settings, *, smtp_factory: SmtpFactory = smtplib.SMTP
) -> str:
    engine = make_engine(settings.store.url)
    redis = Redis.from_url(settings.redis.url)
    try:
        ctx = MailContext.from_settings(
            settings.mail,
            # Jobs run in separate processes: only a limit kept in Redis holds across them.
            limiter=RedisWindowLimiter(redis, settings.mail.max_per_s),
            progress=redis,
        )
        with SmtpSender(settings.mail, smtp_factory=smtp_factory) as sender:
            state = send_one(make_sessionmaker(engine), ctx, sender, email_id)
    finally:
        redis.close()
        engine.dispose()
    if state == "queued":
        # Raising hands the job to RQ's Retry; the row itself already says why.
        raise TemporaryMailError(f"e-mail {email_id} was deferred by the relay; retried later")
    return state


def retry_policy(settings: MailSettings) -> Retry:
    intervals = list(settings.retry_intervals_s)
    return Retry(max=len(intervals), interval=intervals)


def enqueue_send(queue: Queue, email_id: int, settings: MailSettings, **kwargs: Any) -> Job:
    """Queue the send job with the retry policy from settings."""
    return queue.enqueue(send_email, email_id, retry=retry_policy(settings), **kwargs)
