"""Bulk registration for imports: a batch of new participants in three ``executemany`` calls.

:func:`service.register` costs a dozen ORM round trips per participant; an import of a
national file needs tens of thousands per second. Rows are checked exactly as ``register``
checks them (:func:`service.prepare`, in :mod:`import_check`), duplicates are found with one
query per batch, participants a re-import leaves as they are are recognised with three
(:func:`unchanged`), and only rows that need the store's judgement one at a time (updates, rows
without a reference, a reference seen twice) are left to the per-row path.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from engine.errors import EngineError
from engine.participants import service
from engine.participants.synth import DriverValues

_P_COLS = ("external_ref", "name", "email", "channel_pref", "email_followups", "consent_at",
           "status", "is_tester", "created_at", "updated_at")
_A_COLS = ("participant_id", "label", "postcode", "pc4", "house_number", "lat", "lon", "exact",
           "days_mask", "start_minute", "end_minute")
_CHUNK = 900  # bound parameters per IN (...) query, well under every backend's limit


class Rejection(NamedTuple):
    code: str
    message: str

    @classmethod
    def of(cls, exc: EngineError) -> Rejection:
        return cls(exc.code, exc.message)


class Ready(NamedTuple):
    """A new participant checked as far as possible without the store, as plain values.

    Plain tuples cross a process boundary several times faster than :class:`service.Prepared`
    (the import checks rows in worker processes)."""

    ref: str
    name: str
    email: str | None
    channel_pref: str
    email_followups: bool
    is_tester: bool
    phones: tuple[tuple[str, str], ...]  # (e164, kind)
    addresses: tuple[tuple[Any, ...], ...]  # the values of _A_COLS after participant_id

    @classmethod
    def of(cls, p: service.Prepared) -> Ready:
        return cls(p.external_ref or "", p.name, p.email, p.channel_pref, p.email_followups,
                   p.is_tester, tuple((ph.e164, ph.kind) for ph in p.phones),
                   tuple(tuple(a[c] for c in _A_COLS[1:]) for a in p.addresses))


#: What checking a row without the store concluded: ready for the bulk insert, refused, or
#: (None) left for the per-row path (no reference, or one the store must normalise).
Verdict = Ready | Rejection | None
Checked = tuple[int, dict[str, str], Verdict]  # (line number, CSV row, verdict)


@dataclass
class Split:
    fresh: list[Ready] = field(default_factory=list)
    one_by_one: list[Checked] = field(default_factory=list)
    rejected: list[tuple[int, str, Rejection]] = field(default_factory=list)


def split(session: Session, rows: list[Checked], known: dict[str | None, int]) -> Split:
    """Sort a checked batch into new participants to insert in bulk, rows for the per-row path
    (updates, no reference, a reference seen twice) and rows that fail, with the error
    ``register`` would give."""
    out, refs = Split(), set[str]()
    candidates: list[tuple[int, Ready]] = []
    for lineno, row, verdict in rows:
        ref = row.get("external_ref", "")
        if not ref or ref in known or ref in refs or verdict is None:
            out.one_by_one.append((lineno, row, verdict))
        elif isinstance(verdict, Rejection):
            out.rejected.append((lineno, ref, verdict))
        else:
            refs.add(ref)
            candidates.append((lineno, verdict))
    conn = session.connection()
    taken = {row[0] for row in lookup(conn, "SELECT e164 FROM phone WHERE e164 IN",
                                      (e164 for _, r in candidates for e164, _ in r.phones))}
    for lineno, ready in candidates:
        numbers = [e164 for e164, _ in ready.phones]
        dup = next((n for n in numbers if n in taken), None)
        if dup is not None:
            out.rejected.append((lineno, ready.ref, Rejection.of(service.duplicate_phone(dup))))
            continue
        taken.update(numbers)  # a later row of this batch with the same number is refused
        out.fresh.append(ready)
    return out


def unchanged(conn: Connection, rows: list[tuple[int, Ready]]) -> set[int]:
    """The participants among ``rows`` (id, what the file says) that the file would not change,
    judged as :func:`service.same_as` judges, with three queries for the whole batch (an
    idempotent re-import of a national file)."""
    ids = [pid for pid, _ in rows]
    people = {r[0]: tuple(r[1:]) for r in lookup(
        conn, "SELECT id, name, email, channel_pref, status FROM participant WHERE id IN", ids)}
    phones: dict[int, set[str]] = defaultdict(set)
    for pid, e164 in lookup(conn, "SELECT participant_id, e164 FROM phone WHERE participant_id IN",
                            ids):
        phones[pid].add(e164)
    addresses: dict[int, Counter[tuple[object, ...]]] = defaultdict(Counter)
    cols = ", ".join(service.ADDRESS_KEY_FIELDS)
    for pid, *values in lookup(conn, f"SELECT participant_id, {cols} "  # noqa: S608
                               "FROM address WHERE participant_id IN", ids):
        addresses[pid][service.address_key(values)] += 1
    same = set()
    for pid, r in rows:
        name, email, channel, status = people.get(pid, (None, None, None, "erased"))
        if (status != "erased" and (name, email, channel) == (r.name, r.email, r.channel_pref)
                and phones[pid] == {e164 for e164, _ in r.phones}
                and addresses[pid] == Counter(service.address_key([a[i] for i in _KEY_AT])
                                              for a in r.addresses)):
            same.add(pid)
    return same


#: Where the columns ``same_as`` compares sit in :attr:`Ready.addresses`.
_KEY_AT = tuple(_A_COLS[1:].index(c) for c in service.ADDRESS_KEY_FIELDS)


def lookup(conn: Connection, sql: str, values: Iterable[Any]) -> list[Row[Any]]:
    """Run ``sql + " (?, ?, ...)"`` over the distinct values in chunks.

    Driver SQL, because compiling an expanding IN of 900 parameters in SQLAlchemy cost more
    than running it."""
    wanted, found = list(dict.fromkeys(values)), list[Row[Any]]()
    mark = _mark(conn)
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        found.extend(conn.exec_driver_sql(f"{sql} ({', '.join([mark] * len(part))})",
                                          tuple(part)).all())
    return found


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert(session: Session, ready: list[Ready]) -> dict[str, int]:
    """Insert new participants with their numbers and addresses; returns ids by reference."""
    conn = session.connection()
    v = DriverValues.for_dialect(conn)
    mark = _mark(conn)

    def many(table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            sql = (f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608 (constant names)
                   f"VALUES ({', '.join([mark] * len(cols))})")
            conn.exec_driver_sql(sql, rows)

    def flag(b: bool) -> Any:
        return v.true if b else v.false

    before = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM participant").scalar_one()
    many("participant", _P_COLS, [
        (r.ref, r.name, r.email, r.channel_pref, flag(r.email_followups), v.now, "active",
         flag(r.is_tester), v.now, v.now) for r in ready])
    ids = _new_ids(conn, before, {r.ref for r in ready})
    many("phone", ("participant_id", "e164", "kind"), [
        (ids[r.ref], e164, kind) for r in ready for e164, kind in r.phones])
    many("address", _A_COLS, [
        (ids[r.ref], label, postcode, pc4, house, lat, lon, flag(exact), *window)
        for r in ready for label, postcode, pc4, house, lat, lon, exact, *window in r.addresses])
    return ids


def _new_ids(conn: Connection, before: int, refs: set[str]) -> dict[str, int]:
    """Ids of the participants just inserted. New ids are above every id committed before the
    insert (SQLite: max + 1; PostgreSQL: a sequence), so one range scan finds them; rows of a
    concurrent writer in that range are filtered out by reference."""
    ids = {ref: pid for ref, pid in conn.exec_driver_sql(
        f"SELECT external_ref, id FROM participant WHERE id > {_mark(conn)}",  # noqa: S608
        (before,))
        if ref in refs}
    missing = refs - ids.keys()
    if missing:  # an id handed out below the maximum (explicit ids): ask by reference
        ids.update((row[0], row[1]) for row in lookup(
            conn, "SELECT external_ref, id FROM participant WHERE external_ref IN", missing))
    return ids
