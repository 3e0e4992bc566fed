"""The foundation's ``bnet`` commands end to end on a SQLite store: one line per error."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.cli import main

pytestmark = pytest.mark.integration

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def bnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         shared_dir: Path) -> Run:
    monkeypatch.setenv("BNET_STORE__URL", f"sqlite:///{tmp_path / 'bnet.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["geo", "import", str(shared_dir / "data" / "geo" / "nl_pc4.csv")]) == 0
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _last_error_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_import_show_select_unsubscribe_erase(bnet: Run, tmp_path: Path) -> None:
    run = bnet
    path = tmp_path / "deelnemers.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["referentie", "naam", "telefoon", "postcode", "kanaal"])
        w.writerow(["R1", "Anna", "06-12345678", "7411 AB", "beide"])
        w.writerow(["R2", "Bram", "0570 612345", "7412", "spraak"])
    code, out, _ = run("participants", "import", str(path))
    assert code == 0 and "accepted 2" in out
    code, out, _ = run("participants", "show", "1")
    assert code == 0 and "+3161****678" in out and "12345678" not in out  # masked
    code, out, _ = run("participants", "select", "7411", "--radius", "3000")
    assert code == 0 and "2 numbers" in out and "voice 2, sms 1" in out
    assert run("participants", "unsubscribe", "2")[0] == 0
    code, out, _ = run("participants", "select", "7411", "--radius", "3000")
    assert "1 numbers" in out
    assert run("participants", "resubscribe", "2")[0] == 0
    code, out, _ = run("participants", "erase", "1")
    assert code == 0 and "erased" in out
    code, _, err = run("participants", "show", "1")
    assert code == 2 and _last_error_line(err) == "bnet: error: participant 1 was erased"


@pytest.mark.parametrize(("args", "message"), [
    (("participants", "show", "99"), "participant 99 not found"),
    (("participants", "erase", "99"), "participant 99 not found"),
    (("participants", "select", "1000"), "postcode 1000 is not in the PC4 table"),
    (("participants", "select", "Amsterdam"), "is not a Dutch postcode"),
    (("participants", "import", "/nonexistent.csv"), "file not found"),
    (("participants", "synth", "--participation", "0"), "between 0 and 1"),
    (("geo", "lookup", "12"), "is not a Dutch postcode"),
])
def test_bad_input_is_one_line_and_exit_code_2(bnet: Run, args: tuple[str, ...],
                                               message: str) -> None:
    code, _, err = bnet(*args)
    assert code == 2
    line = _last_error_line(err)
    assert line.startswith("bnet: error: ") and message in line


def test_bad_configuration_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", "mysql://nope")
    assert main(["geo", "lookup", "7411"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnet: error: invalid configuration: store.url")
