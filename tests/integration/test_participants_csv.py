"""CSV import of participants: separators, BOM, Dutch headers, per-row errors, idempotence."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.cli import main
from engine.geo.service import Pc4Index
from engine.participants.csv_import import ImportFileError, import_csv
from engine.participants.models import Address, Participant, Phone
from tests.participants_support import Store

pytestmark = pytest.mark.integration

HEADER = ["referentie", "naam", "telefoon", "postcode", "huisnummer", "kanaal", "tijdvenster"]
GOOD = [
    ["R1", "Anna de Vries", "06-12345678", "7411 AB", "12", "beide", ""],
    ["R2", "Bram Bakker", "0570 612345", "7412CD", "3a", "spraak", "ma-vr 08:00-17:00"],
    ["R3", "Céline Öztürk", "+31 6 87654321", "1012", "1", "sms", ""],
]
BAD = [  # (row, expected error code)
    (["R4", "Onbekend", "0611111111", "1000 AA", "1", "beide", ""], "unknown_postcode"),
    (["R5", "Kapot", "06-1234", "7411", "1", "beide", ""], "invalid_phone"),
    (["R6", "Buitenland", "+32 470 12 34 56", "7411", "1", "beide", ""], "invalid_phone"),
    (["R7", "Dubbel", "06 12345678", "7413", "1", "beide", ""], "duplicate_phone"),
    (["R8", "Jan\u0007Bel", "0622222222", "7411", "1", "beide", ""], "invalid_text"),
    (["R9", "Kanaal", "0633333333", "7411", "1", "duif", ""], "invalid_channel"),
    (["R10", "Venster", "0644444444", "7411", "1", "beide", "ma-vr 18:00-18:00"],
     "invalid_window"),
]


def _write(path: Path, rows: list[list[str]], *, sep: str = ";", bom: bool = False,
           header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=sep)
        w.writerow(header)
        w.writerows(rows)
    return path


def _index(factory: sessionmaker[Session]) -> Pc4Index:
    with factory() as s:
        return Pc4Index.load(s)


def _participants(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Participant)) or 0)


@pytest.mark.parametrize(("sep", "bom"), [(";", True), (",", False), (";", False)])
def test_good_rows_are_imported_with_dutch_headers(
        geo_session_factory: sessionmaker[Session], tmp_path: Path, sep: str, bom: bool) -> None:
    path = _write(tmp_path / "deelnemers.csv", GOOD, sep=sep, bom=bom)
    report = import_csv(geo_session_factory, path, _index(geo_session_factory))
    assert (report.accepted, report.rejected, report.errors) == (3, 0, [])
    with geo_session_factory() as s:
        bram = s.scalars(select(Participant).where(Participant.external_ref == "R2")).one()
        assert (bram.name, bram.channel_pref) == ("Bram Bakker", "voice")
        assert [(p.e164, p.kind) for p in bram.phones] == [("+31570612345", "landline")]
        addr = bram.addresses[0]
        assert (addr.postcode, addr.house_number, addr.pc4) == ("7412 CD", "3a", "7412")
        assert (addr.days_mask, addr.start_minute, addr.end_minute) == (0b11111, 480, 1020)
        celine = s.scalars(select(Participant).where(Participant.external_ref == "R3")).one()
        assert celine.name == "Céline Öztürk" and celine.channel_pref == "sms"


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    rows = GOOD + [r for r, _ in BAD]
    path = _write(tmp_path / "deelnemers.csv", rows)
    report = import_csv(geo_session_factory, path, _index(geo_session_factory), batch=4)
    assert report.accepted == 3 and report.rejected == len(BAD)
    got = {line: msg.split(":", 1)[0] for line, _, msg in report.errors}
    # Header is line 1, GOOD rows are lines 2-4, BAD rows start at line 5.
    assert got == {5 + i: code for i, (_, code) in enumerate(BAD)}
    assert _participants(geo_session_factory) == 3
    with geo_session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Phone)) == 3
        assert s.scalar(select(func.count()).select_from(Address)) == 3


def test_rows_checked_in_a_worker_process_import_the_same(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    # Batches of 2 keep several batches in flight in the worker; file order must survive.
    extra = [[f"W{i}", f"Werker {i}", f"06{30000000 + i}", "7411", "1", "beide", ""]
             for i in range(7)]
    rows = GOOD + [r for r, _ in BAD] + extra + [["", "Zonder ref", "0640000000", "7411", "1",
                                                  "beide", ""]]
    path = _write(tmp_path / "deelnemers.csv", rows)
    index = _index(geo_session_factory)
    report = import_csv(geo_session_factory, path, index, batch=2, workers=1)
    assert (report.accepted, report.rejected) == (3 + 7 + 1, len(BAD))
    got = {line: msg.split(":", 1)[0] for line, _, msg in report.errors}
    assert got == {5 + i: code for i, (_, code) in enumerate(BAD)}
    assert _participants(geo_session_factory) == 11
    again = import_csv(geo_session_factory, path, index, batch=2, workers=1)
    # The row without a reference cannot be recognised: its number is taken now.
    assert (again.unchanged, again.accepted, again.rejected) == (10, 0, len(BAD) + 1)


def test_reimport_changes_nothing_and_an_edited_row_updates(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    index = _index(geo_session_factory)
    path = _write(tmp_path / "deelnemers.csv", GOOD)
    import_csv(geo_session_factory, path, index)
    again = import_csv(geo_session_factory, path, index)
    assert (again.accepted, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    edited = [[*GOOD[0][:3], "7413 EF", *GOOD[0][4:]], *GOOD[1:]]
    third = import_csv(geo_session_factory, _write(tmp_path / "v2.csv", edited), index)
    assert (third.accepted, third.updated, third.unchanged) == (0, 1, 2)
    assert _participants(geo_session_factory) == 3
    with geo_session_factory() as s:
        anna = s.scalars(select(Participant).where(Participant.external_ref == "R1")).one()
        assert [a.pc4 for a in anna.addresses] == ["7413"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    ("referentie;naam;telefoon;postcode\nR1;Jos\xe9;0612345678;7411\n".encode("latin-1"),
     "not UTF-8"),
    (b"naam;adres\nJan;Dorpsstraat 1\n", "phone column"),
])
def test_bad_file_is_one_clear_error_and_stores_nothing(
        geo_session_factory: sessionmaker[Session], tmp_path: Path, content: bytes,
        message: str) -> None:
    path = tmp_path / "deelnemers.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_csv(geo_session_factory, path, _index(geo_session_factory))
    assert _participants(geo_session_factory) == 0


def test_wrong_encoding_late_in_the_file_stores_nothing(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "deelnemers.csv"
    rows = [[f"X{i}", "Naam", f"06{20000000 + i}", "7411", "1", "beide", ""]
            for i in range(3000)]
    _write(path, GOOD + rows)
    with path.open("ab") as fh:
        fh.write("X9;Jos\xe9;0699999999;7411;1;beide;\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        import_csv(geo_session_factory, path, _index(geo_session_factory), batch=500)
    assert _participants(geo_session_factory) == 0


def test_cli_import_writes_report_file(
        sqlite_url: str, geo_session_factory: sessionmaker[Session], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    path = _write(tmp_path / "deelnemers.csv", GOOD + [r for r, _ in BAD], bom=True)
    assert main(["participants", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "accepted 3" in out and f"rejected {len(BAD)}" in out
    report = tmp_path / "deelnemers.errors.csv"
    assert report.exists()
    lines = list(csv.reader(report.read_text(encoding="utf-8").splitlines()))
    assert lines[0] == ["line", "external_ref", "error"]
    assert [row[:2] for row in lines[1:]] == [[str(5 + i), r[0]] for i, (r, _) in enumerate(BAD)]
    assert main(["participants", "import", str(path)]) == 0
    assert "unchanged 3" in capsys.readouterr().out
    empty = tmp_path / "leeg.csv"
    empty.write_bytes(b"")
    assert main(["participants", "import", str(empty)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "bnet: error: leeg.csv is empty"
    assert _participants(geo_session_factory) == 3


def test_rows_without_reference_and_repeated_references(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    no_ref = _write(tmp_path / "zonder.csv", [r[1:] for r in GOOD], header=HEADER[1:])
    report = import_csv(geo_session_factory, no_ref, _index(geo_session_factory))
    assert (report.accepted, report.rejected) == (3, 0)
    twice = _write(tmp_path / "dubbel.csv", [
        ["R9", "Eerst", "0611111111", "7411", "1", "beide", ""],
        ["R9", "Daarna", "0611111111", "7412", "1", "beide", ""],
    ])
    report = import_csv(geo_session_factory, twice, _index(geo_session_factory))
    assert (report.accepted, report.updated, report.rejected) == (1, 1, 0)
    with geo_session_factory() as s:
        p = s.scalars(select(Participant).where(Participant.external_ref == "R9")).one()
        assert p.name == "Daarna" and [a.pc4 for a in p.addresses] == ["7412"]
    assert _participants(geo_session_factory) == 4


def test_bulk_conflict_falls_back_to_row_by_row(
        geo_session_factory: sessionmaker[Session], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import IntegrityError

    from engine.participants import bulk

    def conflicting(*_args: object) -> dict[str, int]:
        raise IntegrityError("INSERT", {}, Exception("a concurrent writer took a number"))

    monkeypatch.setattr(bulk, "insert", conflicting)
    path = _write(tmp_path / "deelnemers.csv", GOOD + [r for r, _ in BAD])
    report = import_csv(geo_session_factory, path, _index(geo_session_factory))
    assert (report.accepted, report.rejected) == (3, len(BAD))
    assert _participants(geo_session_factory) == 3


def test_number_taken_by_a_concurrent_writer_rolls_the_batch_back_whole(
        geo_session_factory: sessionmaker[Session], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.participants import bulk, service
    from engine.participants.schemas import AddressIn, ParticipantIn

    real_insert, index = bulk.insert, _index(geo_session_factory)

    def racing(session: Session, ready: list[bulk.Ready]) -> dict[str, int]:
        # Another writer (the API, say) registers Bram's number after the batch checked it.
        with geo_session_factory() as other, other.begin():
            service.register(other, ParticipantIn(
                external_ref="API1", phones=["0570 612345"],
                addresses=[AddressIn(postcode="7411")]), index)
        return real_insert(session, ready)

    monkeypatch.setattr(bulk, "insert", racing)
    path = _write(tmp_path / "deelnemers.csv", GOOD)
    report = import_csv(geo_session_factory, path, index, workers=0)
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.errors[0][:2] == (3, "R2") and "duplicate_phone" in report.errors[0][2]
    with geo_session_factory() as s:
        refs = set(s.scalars(select(Participant.external_ref)))
        assert refs == {"R1", "R3", "API1"}
        # Nothing half-written: every participant has its number and its address.
        assert s.scalar(select(func.count()).select_from(Phone)) == 3
        assert s.scalar(select(func.count()).select_from(Address)) == 3


@pytest.mark.parametrize("workers", [0, 1])
def test_unclosed_quote_stops_the_import_there_and_keeps_the_rows_before(
        geo_session_factory: sessionmaker[Session], tmp_path: Path, workers: int) -> None:
    path = _write(tmp_path / "deelnemers.csv", GOOD)
    filler = "".join(f"F{i};Naam;06{40000000 + i};7411;1;beide;\n" for i in range(15_000))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('R4;"Jan;0611111111;7411;1;beide;\n' + filler)
    report = import_csv(geo_session_factory, path, _index(geo_session_factory), batch=2,
                        workers=workers)
    assert (report.accepted, report.rejected) == (3, 1)
    assert report.stopped is not None and report.stopped.startswith("line 5:")
    assert report.errors[0][0] == 5 and report.errors[0][2].startswith("malformed_csv:")
    assert _participants(geo_session_factory) == 3


def test_cli_says_where_a_malformed_file_stopped(
        sqlite_url: str, geo_session_factory: sessionmaker[Session], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    path = _write(tmp_path / "deelnemers.csv", GOOD)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('R4;"Jan;0611111111;7411;1;beide;\n' + "x" * 200_000 + "\n")
    assert main(["participants", "import", str(path)]) == 1
    captured = capsys.readouterr()
    assert "accepted 3" in captured.out
    assert "bnet: error: stopped early at line 5: field larger than field limit" in captured.err
    assert _participants(geo_session_factory) == 3


def test_cli_without_a_migrated_store_says_to_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", f"sqlite:///{tmp_path / 'nieuw.db'}")
    path = _write(tmp_path / "deelnemers.csv", GOOD)
    assert main(["participants", "import", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("bnet: error: the store has no schema or an old one")
    assert err[-1].endswith("run 'bnet db upgrade' first")


def test_reimport_applies_two_rows_of_one_participant_in_file_order(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    index = _index(geo_session_factory)
    import_csv(geo_session_factory, _write(tmp_path / "v1.csv", GOOD), index)
    moved = [*GOOD[0][:3], "7413 EF", *GOOD[0][4:]]
    # Moved, then back again: the second row compares with what the first wrote.
    report = import_csv(geo_session_factory, _write(tmp_path / "v2.csv", [moved, *GOOD]), index)
    assert (report.accepted, report.updated, report.unchanged) == (0, 2, 2)
    with geo_session_factory() as s:
        anna = s.scalars(select(Participant).where(Participant.external_ref == "R1")).one()
        assert [a.postcode for a in anna.addresses] == ["7411 AB"]


def test_reimport_sees_a_changed_number_and_leaves_unsubscribed_people_unsubscribed(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    from engine.participants import service

    index = _index(geo_session_factory)
    import_csv(geo_session_factory, _write(tmp_path / "v1.csv", GOOD), index)
    with geo_session_factory() as s, s.begin():
        bram = s.scalars(select(Participant).where(Participant.external_ref == "R2")).one()
        service.unsubscribe(s, bram.id)
    new_number = [*GOOD[2][:2], "+31 6 87650000", *GOOD[2][3:]]
    report = import_csv(geo_session_factory,
                        _write(tmp_path / "v2.csv", [*GOOD[:2], new_number]), index)
    assert (report.updated, report.unchanged) == (1, 2)
    with geo_session_factory() as s:
        celine = s.scalars(select(Participant).where(Participant.external_ref == "R3")).one()
        assert [p.e164 for p in celine.phones] == ["+31687650000"]
        bram = s.scalars(select(Participant).where(Participant.external_ref == "R2")).one()
        assert bram.status == "unsubscribed"


def test_import_reimport_and_a_racing_writer_on_each_backend(
        geo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.participants import bulk, service
    from engine.participants.schemas import AddressIn, ParticipantIn

    index, factory = geo_store.index(), geo_store.factory
    first = import_csv(factory, _write(tmp_path / "v1.csv", GOOD[:2] + [r for r, _ in BAD]),
                       index, batch=3)
    assert (first.accepted, first.rejected) == (2, len(BAD))
    again = import_csv(factory, _write(tmp_path / "v1.csv", GOOD[:2]), index)
    assert (again.accepted, again.unchanged, again.updated) == (0, 2, 0)

    real_insert = bulk.insert

    def racing(session: Session, ready: list[bulk.Ready]) -> dict[str, int]:
        with factory() as other, other.begin():  # takes Céline's number first
            service.register(other, ParticipantIn(
                external_ref="API1", phones=["+31 6 87654321"],
                addresses=[AddressIn(postcode="7411")]), index)
        return real_insert(session, ready)

    monkeypatch.setattr(bulk, "insert", racing)
    extra = [["R11", "Nieuw", "0655555555", "7411", "1", "beide", ""]]
    report = import_csv(factory, _write(tmp_path / "v2.csv", GOOD + extra), index)
    assert (report.accepted, report.unchanged, report.rejected) == (1, 2, 1)
    assert "duplicate_phone" in report.errors[0][2]
    with factory() as s:
        assert set(s.scalars(select(Participant.external_ref))) == {
            "R1", "R2", "R11", "API1"}
        assert s.scalar(select(func.count()).select_from(Phone)) == 4
        assert s.scalar(select(func.count()).select_from(Address)) == 4


def test_a_killed_checking_process_is_one_clear_error_and_keeps_what_was_stored(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    import multiprocessing
    import os
    import signal

    from engine.errors import EngineError

    rows = [[f"K{i}", "Naam", f"06{50000000 + i}", "7411", "1", "beide", ""]
            for i in range(400)]
    path = _write(tmp_path / "deelnemers.csv", rows)
    before = {p.pid for p in multiprocessing.active_children()}

    def kill_worker_after_first_batch(_done: int) -> None:
        for child in multiprocessing.active_children():
            if child.pid not in before:  # the import's own worker, nothing else
                os.kill(child.pid or 0, signal.SIGKILL)  # the OOM killer, say

    with pytest.raises(EngineError, match=r"ended unexpectedly .* at line \d+") as caught:
        import_csv(geo_session_factory, path, _index(geo_session_factory), batch=5, workers=1,
                   progress=kill_worker_after_first_batch)
    assert caught.value.code == "import_worker_lost"
    assert 5 <= _participants(geo_session_factory) < 400


def test_import_tuning_does_not_leak_into_other_connections(
        geo_session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    engine = geo_session_factory.kw["bind"]
    import_csv(geo_session_factory, _write(tmp_path / "v1.csv", GOOD),
               _index(geo_session_factory))
    # The import's big page cache and rare checkpoints stay with its own, discarded
    # connection: the API and the dialer keep SQLite's defaults.
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
