"""The in-memory selection snapshot answers exactly as the store, and sees direct SQL changes
(made by code that bypasses the participants service) on the very next selection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text

from engine.participants import service
from engine.participants.models import Participant, Phone
from engine.participants.selection import Circle, Polygon, Selection, select_participants
from engine.participants.snapshot import SelectionSnapshot, prune_changes
from engine.participants.windows import NL_TZ
from tests.participants_support import Store, person, populate_deventer

pytestmark = pytest.mark.integration

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NL_TZ)
SUNDAY_23 = datetime(2026, 11, 29, 23, 0, tzinfo=NL_TZ)
DEVENTER = (52.2524, 6.1595)  # PC4 7411
TRIGGERS = {f"trg_{t}_change_{e}" for t in ("participant", "phone", "address")
            for e in ("insert", "update", "delete")} - {"trg_participant_change_insert"}
#: Around Deventer centre, lon/lat.
RING = [(6.12, 52.23), (6.20, 52.23), (6.21, 52.27), (6.16, 52.29), (6.12, 52.27),
        (6.12, 52.23)]


def _rows(sel: Selection) -> list[tuple[object, ...]]:
    return [(e.participant_id, e.e164, e.phone_kind, e.channel, round(e.distance_m, 6), e.pc4)
            for e in sel.entries]


def _canonical(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    # Among equal distances PostgreSQL may return the store's rows in any order.
    return sorted(rows, key=lambda r: (r[4], r[0], r[1]))


def _both(store: Store, snap: SelectionSnapshot, area: Circle | Polygon,
          at: datetime = TUESDAY_10, **kw: object) -> tuple[Selection, Selection]:
    index = store.index()
    with store.factory() as s:
        db = select_participants(s, area, at, index=index, **kw)  # type: ignore[arg-type]
    with store.factory() as s:
        mem = select_participants(s, area, at, index=index, snapshot=snap,
                                  **kw)  # type: ignore[arg-type]
    return db, mem


def _assert_same(store: Store, db: Selection, mem: Selection) -> None:
    if store.dialect == "sqlite":
        assert _rows(mem) == _rows(db)  # same order too, ties included
    else:
        assert _canonical(_rows(mem)) == _canonical(_rows(db))
    assert mem.distances_m == sorted(mem.distances_m)


def _sql(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def _populated(store: Store) -> SelectionSnapshot:
    assert populate_deventer(store) > 300
    return SelectionSnapshot()


AREAS = [Circle(*DEVENTER, 1_500), Circle(*DEVENTER, 4_000), Circle(*DEVENTER, 12_000),
         Polygon([RING])]


@pytest.mark.parametrize("area", AREAS, ids=["c1500", "c4000", "c12000", "polygon"])
def test_snapshot_equals_store(geo_store: Store, area: Circle | Polygon) -> None:
    snap = _populated(geo_store)
    for at in (TUESDAY_10, SUNDAY_23):
        db, mem = _both(geo_store, snap, area, at)
        assert len(db) > 50
        _assert_same(geo_store, db, mem)
    db, mem = _both(geo_store, snap, area, testers_only=True)
    assert 0 < len(db) < 200
    _assert_same(geo_store, db, mem)
    exclude = frozenset(db.e164s[::3])
    db, mem = _both(geo_store, snap, area, exclude_e164=exclude)
    assert not exclude & set(mem.e164s)
    _assert_same(geo_store, db, mem)
    assert snap.builds == 1


def test_direct_sql_changes_are_seen_at_once(geo_store: Store) -> None:
    snap = _populated(geo_store)
    area = Circle(*DEVENTER, 3_000)
    db, mem = _both(geo_store, snap, area)
    pid, num = mem.participant_ids[0], mem.e164s[1]
    other = mem.participant_ids[-1]
    _sql(geo_store, "UPDATE participant SET status = 'unsubscribed' WHERE id = :p", p=pid)
    _sql(geo_store, "UPDATE phone SET invalid_since = :t WHERE e164 = :n",
         t=datetime.now(UTC), n=num)
    _sql(geo_store, "UPDATE address SET pc4 = '1012', lat = 52.3731, lon = 4.8922 "
                    "WHERE participant_id = :p", p=other)
    db, mem = _both(geo_store, snap, area)
    assert pid not in mem.participant_ids
    assert num not in mem.e164s
    assert other not in mem.participant_ids
    _assert_same(geo_store, db, mem)
    erased = mem.participant_ids[2]
    if geo_store.dialect == "postgresql":  # synth wrote ids itself, past the sequence
        _sql(geo_store, "SELECT setval('participant_id_seq', (SELECT max(id) FROM participant))")
    with geo_store.factory() as s, s.begin():
        new = service.register(s, person("06 41234567", "7411 AB"), geo_store.index())
        service.erase(s, erased)
    db, mem = _both(geo_store, snap, area)
    assert "+31641234567" in mem.e164s
    assert new.id in mem.participant_ids
    assert erased not in mem.participant_ids
    _assert_same(geo_store, db, mem)
    assert snap.builds == 1 and snap.patches >= 2


def test_many_changes_rebuild_and_pruned_log_forces_rebuild(geo_store: Store) -> None:
    snap = SelectionSnapshot(rebuild_after=10)
    snap_pruned = SelectionSnapshot()
    populate_deventer(geo_store)
    area = Circle(*DEVENTER, 5_000)
    _both(geo_store, snap, area)
    _both(geo_store, snap_pruned, area)
    _sql(geo_store, "UPDATE participant SET status = 'unsubscribed' WHERE id % 5 = 0")
    db, mem = _both(geo_store, snap, area)
    _assert_same(geo_store, db, mem)
    assert snap.builds == 2
    with geo_store.engine.connect() as conn:
        newest = int(conn.execute(text("SELECT max(id) FROM participant_change")).scalar_one())
        pruned = prune_changes(conn, newest, datetime(2999, 1, 1, tzinfo=UTC))
    assert pruned > 0
    _sql(geo_store, "UPDATE phone SET invalid_since = :t WHERE id % 3 = 0", t=datetime.now(UTC))
    db, mem = _both(geo_store, snap_pruned, area)
    _assert_same(geo_store, db, mem)
    assert snap_pruned.builds == 2


def test_delta_merges_into_the_base(geo_store: Store) -> None:
    snap = _populated(geo_store)
    area = Circle(*DEVENTER, 6_000)
    _both(geo_store, snap, area)
    with geo_store.factory() as s:
        phones = s.scalars(select(Phone.id).join(Participant).order_by(Phone.id)).all()
    for chunk in (phones[::4], phones[1::4]):
        ids = ", ".join(str(i) for i in chunk)
        _sql(geo_store, f"UPDATE phone SET kind = kind WHERE id IN ({ids})")
        db, mem = _both(geo_store, snap, area)
        _assert_same(geo_store, db, mem)
    assert snap.builds == 1


def test_triggers_exist_after_migrations(geo_store: Store) -> None:
    with geo_store.engine.connect() as conn:
        if geo_store.dialect == "sqlite":
            names = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
        else:
            names = {r[0] for r in conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))}
        assert names >= TRIGGERS
        assert "participant_change" in inspect(conn).get_table_names()


def test_rolled_back_changes_are_not_kept(geo_store: Store) -> None:
    snap = _populated(geo_store)
    area = Circle(*DEVENTER, 3_000)
    db, _ = _both(geo_store, snap, area)
    victim = db.participant_ids[0]
    index = geo_store.index()
    with geo_store.factory() as s:
        s.execute(text("UPDATE participant SET status = 'unsubscribed' WHERE id = :p"),
                  {"p": victim})
        select_participants(s, area, TUESDAY_10, index=index, snapshot=snap)
        s.rollback()
    _sql(geo_store, "UPDATE participant SET status = 'unsubscribed' WHERE id = :p",
         p=db.participant_ids[-1])
    db, mem = _both(geo_store, snap, area)
    assert victim in mem.participant_ids
    _assert_same(geo_store, db, mem)


def test_change_committed_after_a_later_one_is_not_missed(geo_store: Store) -> None:
    """On PostgreSQL change ids are handed out before commit: a transaction holding a lower
    id may commit after the snapshot has seen a higher one."""
    snap = _populated(geo_store)
    area = Circle(*DEVENTER, 3_000)
    db, _ = _both(geo_store, snap, area)
    slow, fast = db.participant_ids[0], db.participant_ids[-1]
    with geo_store.engine.connect() as held:
        held.execute(text("UPDATE participant SET status = 'unsubscribed' WHERE id = :p"),
                     {"p": slow})  # takes the lower change id, not committed yet
        if geo_store.dialect == "sqlite":
            held.commit()  # SQLite has one writer at a time: commits come in id order
        _sql(geo_store, "UPDATE participant SET status = 'unsubscribed' WHERE id = :p", p=fast)
        _, mem = _both(geo_store, snap, area)
        assert fast not in mem.participant_ids
        held.commit()
    db, mem = _both(geo_store, snap, area)
    assert slow not in mem.participant_ids
    _assert_same(geo_store, db, mem)
    assert snap.builds == 1


def test_the_apis_cached_geo_selects_through_its_snapshot(geo_store: Store) -> None:
    from engine.actions.ports import CachedGeo

    populate_deventer(geo_store)
    geo = CachedGeo()
    area = Circle(*DEVENTER, 3_000)
    with geo_store.factory() as s:
        geo.warm(s)
        db = select_participants(s, area, TUESDAY_10, index=geo.index(s))
        first = geo.select(s, area, TUESDAY_10)
    assert [e.e164 for e in first.entries] == db.e164s or geo_store.dialect == "postgresql"
    assert sorted(e.e164 for e in first.entries) == sorted(db.e164s)
    _sql(geo_store, "UPDATE phone SET invalid_since = :t WHERE e164 = :n",
         t=datetime.now(UTC), n=db.e164s[0])
    with geo_store.factory() as s:
        again = geo.select(s, area, TUESDAY_10)
    assert db.e164s[0] not in [e.e164 for e in again.entries]
    assert len(again.entries) == len(db) - 1
