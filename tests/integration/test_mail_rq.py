"""The RQ job ``rq_workers.mail.send_email`` against real Redis, SQLite and SMTP servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.progress import channel
from engine.config import RedisSettings, Settings, StoreSettings
from engine.mail.errors import MailConfigError
from rq_workers.mail import enqueue_send, run_send_email
from tests.mail_support import (
    ACTION_ID,
    SECRET,
    CollectingHandler,
    SmtpServer,
    add_action,
    add_email,
    smtp_server,
    state,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    add_action(session_factory)
    return session_factory


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    handler = CollectingHandler(refuse={"later@example.nl": "451 4.3.0 Try again later"})
    with smtp_server(handler) as srv:
        yield srv


def _settings(sqlite_url: str, redis_url: str, srv: SmtpServer, **mail: object) -> Settings:
    return Settings(
        store=StoreSettings(url=sqlite_url),
        redis=RedisSettings(url=redis_url, embedded=False),
        mail=srv.settings(**mail),
    )


def test_job_sends_once_however_often_it_runs(
    store: sessionmaker[Session],
    server: SmtpServer,
    sqlite_url: str,
    redis_url: str,
    redis_client: redis.Redis[bytes],
) -> None:
    email_id = add_email(store, "eenmaal@example.nl")
    settings = _settings(sqlite_url, redis_url, server)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(channel(ACTION_ID))
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    assert run_send_email(email_id, settings) == "sent"
    assert run_send_email(email_id, settings) == "sent"
    assert len(server.handler.received) == 1
    note = pubsub.get_message(timeout=2)
    assert note is not None
    assert json.loads(note["data"]) == {"action_id": ACTION_ID, "kind": "email", "state": "sent"}
    pubsub.close()


def test_job_without_unsubscribe_secret_refuses_and_leaves_the_row_queued(
    store: sessionmaker[Session], server: SmtpServer, sqlite_url: str, redis_url: str
) -> None:
    email_id = add_email(store, "geheim@example.nl")
    settings = _settings(sqlite_url, redis_url, server, unsubscribe_secret=None)
    with pytest.raises(MailConfigError, match="unsubscribe_secret"):
        run_send_email(email_id, settings)
    assert state(store, email_id)[0] == "queued"
    assert server.handler.received == []


def _config_file(tmp_path: Path, sqlite_url: str, redis_url: str, srv: SmtpServer) -> Path:
    path = tmp_path / "bnet.toml"
    path.write_text(
        f'[store]\nurl = "{sqlite_url}"\n'
        f'[redis]\nurl = "{redis_url}"\nembedded = false\n'
        f'[mail]\nhost = "{srv.host}"\nport = {srv.port}\nhelo_name = "bnet.test"\n'
        f'unsubscribe_secret = "{SECRET}"\nretry_intervals_s = [60, 300]\n',
        encoding="utf-8",
    )
    return path


def test_through_an_rq_worker_deferred_mail_is_retried_later(
    store: sessionmaker[Session],
    server: SmtpServer,
    sqlite_url: str,
    redis_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BNET_CONFIG", str(_config_file(tmp_path, sqlite_url, redis_url, server)))
    settings = _settings(sqlite_url, redis_url, server)
    ok = add_email(store, "direct@example.nl")
    later = add_email(store, "later@example.nl")
    queue = Queue("mail", connection=redis_client)
    job_ok = enqueue_send(queue, ok, settings.mail)
    job_later = enqueue_send(queue, later, settings.mail)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert job_ok.get_status(refresh=True) == "finished"
    assert job_ok.return_value() == "sent"
    # 451: the row waits in the queue and RQ has scheduled the retry (60 s, from settings).
    assert job_later.get_status(refresh=True) == "scheduled"
    assert state(store, later)[0] == "queued"
    assert "451" in (state(store, later)[1] or "")
    assert [r.rcpt_tos for r in server.handler.received] == [["direct@example.nl"]]
