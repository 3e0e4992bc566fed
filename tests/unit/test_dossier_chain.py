"""The action dossier's hash chain: append, verify, tampering, pseudonymisation, concurrency."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import DossierEntry


def _fill(factory: sessionmaker[Session], action: str = "A1", n: int = 5) -> None:
    with factory() as s, s.begin():
        for i in range(n):
            personal = {"e164": f"+3161234567{i}"} if i % 2 else None
            dossier.append(s, action, actor="dialer", kind="call_attempt",
                           data={"attempt": i, "note": "Dit is een oproep"}, personal=personal)


def test_appended_entries_chain_and_verify(session_factory: sessionmaker[Session]) -> None:
    _fill(session_factory)
    _fill(session_factory, "A2", 2)
    with session_factory() as s:
        rows = s.scalars(select(DossierEntry).where(DossierEntry.action_id == "A1")
                         .order_by(DossierEntry.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == dossier.GENESIS
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
        assert dossier.verify(s, "A1") == dossier.VerifyResult(True, 5)
        assert dossier.verify(s, "A2").ok and dossier.count(s, "A2") == 2
        assert dossier.verify(s, "nothing") == dossier.VerifyResult(True, 0)


@pytest.mark.parametrize(("change", "bad_seq", "reason"), [
    (update(DossierEntry).where(DossierEntry.seq == 3).values(data={"attempt": 99}), 3,
     "content"),
    (update(DossierEntry).where(DossierEntry.seq == 2).values(actor="someone else"), 2,
     "content"),
    (update(DossierEntry).where(DossierEntry.seq == 4).values(personal={"e164": "+31600000000"}),
     4, "personal"),
    (delete(DossierEntry).where(DossierEntry.seq == 3), 4, "missing"),
    (delete(DossierEntry).where(DossierEntry.seq == 5), None, ""),  # see the test below
])
def test_tampering_is_detected(session_factory: sessionmaker[Session], change: object,
                               bad_seq: int | None, reason: str) -> None:
    _fill(session_factory)
    with session_factory() as s, s.begin():
        s.execute(change)  # type: ignore[call-overload]
    with session_factory() as s:
        result = dossier.verify(s, "A1")
    if bad_seq is None:
        # Cutting off the tail cannot be seen from the chain alone; the count shows it.
        assert result.ok and result.entries == 4
        return
    assert not result.ok and result.first_bad_seq == bad_seq and reason in result.reason


def test_reordered_entries_are_detected(session_factory: sessionmaker[Session]) -> None:
    _fill(session_factory)
    with session_factory() as s, s.begin():
        s.execute(update(DossierEntry).where(DossierEntry.seq == 2).values(seq=-2))
        s.execute(update(DossierEntry).where(DossierEntry.seq == 3).values(seq=2))
        s.execute(update(DossierEntry).where(DossierEntry.seq == -2).values(seq=3))
    with session_factory() as s:
        result = dossier.verify(s, "A1")
    assert not result.ok and result.first_bad_seq == 2


def test_pseudonymise_keeps_the_chain_valid(session_factory: sessionmaker[Session]) -> None:
    _fill(session_factory)
    with session_factory() as s, s.begin():
        assert dossier.pseudonymise(s, {"phone0": "+31612345671"}, "erased-abc") == 1
    with session_factory() as s:
        entry = s.scalars(select(DossierEntry).where(DossierEntry.seq == 2)).one()
        assert entry.personal == {"e164": "erased-abc"} and entry.pseudonymised
        assert dossier.verify(s, "A1").ok


def test_concurrent_appends_from_two_threads_give_a_gapless_chain(
        session_factory: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(25):
                with session_factory() as s, s.begin():
                    dossier.append(s, "A1", actor=name, kind="event", data={"i": i})
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("dialer", "smpp")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with session_factory() as s:
        seqs = s.scalars(select(DossierEntry.seq).where(DossierEntry.action_id == "A1")
                         .order_by(DossierEntry.seq)).all()
        assert seqs == list(range(1, 51))
        assert dossier.verify(s, "A1").ok


def test_rolled_back_transaction_leaves_no_dossier_entry(
        session_factory: sessionmaker[Session]) -> None:
    # On SQLite a SAVEPOINT before any write used to start the transaction itself and commit it
    # on RELEASE (engine/store/db.py now says BEGIN first).
    with pytest.raises(RuntimeError), session_factory() as s, s.begin():
        dossier.append(s, "A1", actor="centralist", kind="created", data={})
        raise RuntimeError("the action could not be created")
    with session_factory() as s:
        assert dossier.count(s, "A1") == 0
