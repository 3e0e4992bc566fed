"""``bnet mail ...`` as an operator uses it, against a real SMTP server and store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import EmailMessage
from engine.cli import main
from engine.store.db import transaction
from tests.mail_support import (
    SECRET,
    SmtpServer,
    add_action,
    add_email,
    dsn_bytes,
    smtp_server,
    state,
)

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, sqlite_url: str, srv: SmtpServer, secret: bool = True) -> str:
    path = tmp_path / "bnet.toml"
    lines = [
        f'[store]\nurl = "{sqlite_url}"',
        f'[mail]\nhost = "{srv.host}"\nport = {srv.port}\nhelo_name = "bnet.test"',
    ]
    if secret:
        lines.append(f'unsubscribe_secret = "{SECRET}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_mail_test_sends_a_dutch_test_message(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server() as srv:
        code = main(
            [
                "--config",
                _config(tmp_path, sqlite_url, srv),
                "mail",
                "test",
                "--to",
                "beheer@example.nl",
            ]
        )
    assert code == 0
    assert capsys.readouterr().out.startswith("sent: 250")
    [got] = srv.handler.received
    assert got.message()["Subject"] == "Burgernet: testbericht"


def test_mail_test_refuses_a_malformed_address(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server() as srv:
        code = main(
            [
                "--config",
                _config(tmp_path, sqlite_url, srv),
                "mail",
                "test",
                "--to",
                "beheer@example.nl\r\nBcc: x@y.nl",
            ]
        )
    assert code == 2
    assert "control characters" in capsys.readouterr().err
    assert srv.handler.received == []


def test_send_queued_then_status(
    tmp_path: Path,
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_action(session_factory)
    for i in range(2):
        add_email(session_factory, f"p{i}@example.nl")
    with smtp_server() as srv:
        cfg = _config(tmp_path, sqlite_url, srv)
        assert main(["--config", cfg, "mail", "send-queued"]) == 0
        assert main(["--config", cfg, "mail", "status"]) == 0
    out = capsys.readouterr().out
    assert "e-mail: 2 sent (1 connection(s))" in out
    assert "sent       2" in out


def test_send_queued_without_secret_names_the_setting(
    tmp_path: Path,
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_action(session_factory)
    email_id = add_email(session_factory, "p@example.nl")
    with smtp_server() as srv:
        code = main(
            ["--config", _config(tmp_path, sqlite_url, srv, secret=False), "mail", "send-queued"]
        )
    assert code == 2
    assert "mail.unsubscribe_secret" in capsys.readouterr().err
    assert state(session_factory, email_id)[0] == "queued"


def test_recover_requeue_and_bounce(
    tmp_path: Path,
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_action(session_factory)
    email_id = add_email(session_factory, "crash@example.nl")
    # A worker claimed the row and died before it could record anything.
    with transaction(session_factory) as session:
        session.execute(
            update(EmailMessage).where(EmailMessage.id == email_id).values(state="sending")
        )
    with smtp_server() as srv:
        cfg = _config(tmp_path, sqlite_url, srv)
        assert main(["--config", cfg, "mail", "recover", "--older-than-s", "0"]) == 0
        assert state(session_factory, email_id)[0] == "uncertain"
        assert main(["--config", cfg, "mail", "send-queued"]) == 0
        assert srv.handler.received == []
        assert main(["--config", cfg, "mail", "requeue", str(email_id)]) == 0
        assert main(["--config", cfg, "mail", "send-queued"]) == 0
        message_id = srv.handler.received[0].message()["Message-ID"]
        assert main(["--config", cfg, "mail", "bounce", message_id, "--reason", "5.1.1"]) == 0
        assert main(["--config", cfg, "mail", "requeue", str(email_id)]) == 2
    assert state(session_factory, email_id) == ("bounced", "bounce: 5.1.1")
    assert "is not uncertain or failed" in capsys.readouterr().err


def test_bounce_from_a_dsn_file(
    tmp_path: Path,
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_action(session_factory)
    email_id = add_email(session_factory, "jan@example.nl")
    with smtp_server() as srv:
        cfg = _config(tmp_path, sqlite_url, srv)
        assert main(["--config", cfg, "mail", "send-queued"]) == 0
        sent = srv.handler.received[0].message()
    headers = "".join(f"{k}: {v}\n" for k, v in sent.items() if k in ("From", "To", "Message-ID"))
    dsn = tmp_path / "bounce.eml"
    dsn.write_bytes(dsn_bytes(headers))
    assert main(["--config", cfg, "mail", "bounce", "--dsn", str(dsn)]) == 0
    assert state(session_factory, email_id) == (
        "bounced",
        "bounce: 5.1.1 550 5.1.1 <<adres>>: Recipient address rejected",
    )
    dsn.write_bytes(b"Subject: gewone mail\n\nhallo\n")
    assert main(["--config", cfg, "mail", "bounce", "--dsn", str(dsn)]) == 2
    assert "no delivery status notification" in capsys.readouterr().err
