"""Several workers given the same e-mail rows at once: every message goes out exactly once."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select

from engine.actions.models import DossierEntry
from engine.mail.sender import SmtpSender
from engine.mail.service import MailContext, send_email
from engine.store.db import make_engine, make_sessionmaker
from tests.mail_support import add_action, add_email, smtp_server

pytestmark = pytest.mark.integration

WORKERS = 3
ROWS = 12


@pytest.mark.parametrize("store_url", ["sqlite_url", "pg_url"])
def test_concurrent_workers_send_each_row_once(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(request.getfixturevalue(store_url))
    factory = make_sessionmaker(engine)
    add_action(factory)
    ids = [add_email(factory, f"c{i}@example.nl") for i in range(ROWS)]
    errors: list[BaseException] = []
    with smtp_server() as srv:
        settings = srv.settings()
        ctx = MailContext.from_settings(settings)

        def worker(seed: int) -> None:
            order = ids[:]
            random.Random(seed).shuffle(order)
            try:
                with SmtpSender(settings) as sender:
                    for email_id in order:
                        send_email(factory, ctx, sender, email_id)
            except BaseException as exc:  # surfaced below; a thread can't fail the test
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    recipients = sorted(r for got in srv.handler.received for r in got.rcpt_tos)
    assert recipients == sorted(f"c{i}@example.nl" for i in range(ROWS))
    with factory() as session:
        sent_entries = session.scalar(
            select(func.count()).select_from(DossierEntry).where(DossierEntry.kind == "email_sent")
        )
    assert sent_entries == ROWS
    engine.dispose()
