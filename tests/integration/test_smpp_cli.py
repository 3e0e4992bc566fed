"""``bnet smsc`` for telecom admins, on a migrated SQLite store."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.config import load_settings
from engine.smpp import tuning
from engine.store.db import make_engine, make_sessionmaker, transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def store(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    monkeypatch.setenv("BNET_REDIS__URL", "redis://127.0.0.1:1/0")  # nothing listens: no live state
    return sqlite_url


def _effective(url: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            (smsc,) = tuning.effective(session, load_settings().smpp)
            return smsc.model_dump()
    finally:
        engine.dispose()


def test_set_then_list_shows_new_values(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smsc", "set", "local", "max_tps=250", "window=40", "prefixes=+316,+31"]) == 0
    values = _effective(store)
    assert (values["max_tps"], values["window"], values["prefixes"]) == (250.0, 40, ["+316", "+31"])
    capsys.readouterr()
    assert main(["smsc", "list"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "250" in out


def test_disable_and_enable(store: str) -> None:
    assert main(["smsc", "disable", "local"]) == 0
    assert _effective(store)["enabled"] is False
    assert main(["smsc", "enable", "local"]) == 0
    assert _effective(store)["enabled"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["smsc", "set", "local", "window=0"], "window"),
        (["smsc", "set", "local", "colour=blue"], "key=value"),
        (["smsc", "set", "nowhere", "window=5"], "no SMSC named"),
    ],
)
def test_bad_changes_are_refused_with_one_line(
    store: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
