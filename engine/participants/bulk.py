"""Bulk registration for imports: a batch of new participants in three ``executemany`` calls.

:func:`service.register` costs a dozen ORM round trips per participant; an import of a
national file needs tens of thousands per second. Rows are checked exactly as ``register``
checks them (:func:`service.prepare`), duplicates are found with one query per batch, and only
rows that need the store's judgement one at a time (updates, rows without a reference, a
reference seen twice) are left to the per-row path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import EngineError
from engine.geo.service import Pc4Index
from engine.participants import service
from engine.participants.models import Participant, Phone
from engine.participants.schemas import ParticipantIn
from engine.participants.synth import DriverValues

Row = tuple[int, ParticipantIn]

_P_COLS = ("external_ref", "name", "email", "channel_pref", "email_followups", "consent_at",
           "status", "is_tester", "created_at", "updated_at")
_A_COLS = ("participant_id", "label", "postcode", "pc4", "house_number", "lat", "lon", "exact",
           "days_mask", "start_minute", "end_minute")
_CHUNK = 900  # bound parameters per IN (...) query, well under every backend's limit


@dataclass
class Split:
    fresh: list[tuple[int, ParticipantIn, service.Prepared]] = field(default_factory=list)
    one_by_one: list[Row] = field(default_factory=list)
    rejected: list[tuple[int, str, EngineError]] = field(default_factory=list)


def split(session: Session, rows: list[Row], known: dict[str | None, int],
          index: Pc4Index) -> Split:
    """Sort a batch into new participants to insert in bulk, rows for the per-row path, and
    rows that fail (with the error ``register`` would give)."""
    out, refs = Split(), set()
    candidates = []
    for lineno, data in rows:
        ref = data.external_ref
        if not ref or ref in known or ref in refs:
            out.one_by_one.append((lineno, data))
            continue
        try:
            prepared = service.prepare(data, index)
        except EngineError as exc:
            out.rejected.append((lineno, ref, exc))
            continue
        if prepared.external_ref != ref:  # normalised: let register() judge it
            out.one_by_one.append((lineno, data))
            continue
        refs.add(ref)
        candidates.append((lineno, data, prepared))
    taken = _taken(session, (p.e164 for _, _, prep in candidates for p in prep.phones))
    for lineno, data, prepared in candidates:
        numbers = [p.e164 for p in prepared.phones]
        dup = next((n for n in numbers if n in taken), None)
        if dup is not None:
            out.rejected.append((lineno, data.external_ref or "", service.duplicate_phone(dup)))
            continue
        taken.update(numbers)  # a later row of this batch with the same number is refused
        out.fresh.append((lineno, data, prepared))
    return out


def _taken(session: Session, numbers: Iterable[str]) -> set[str]:
    wanted, found = list(dict.fromkeys(numbers)), set[str]()
    for i in range(0, len(wanted), _CHUNK):
        found.update(session.scalars(select(Phone.e164).where(
            Phone.e164.in_(wanted[i:i + _CHUNK]))))
    return found


def insert(session: Session, prepared: list[service.Prepared]) -> dict[str, int]:
    """Insert new participants with their numbers and addresses; returns ids by reference."""
    conn = session.connection()
    v = DriverValues.for_dialect(conn)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def many(table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            sql = (f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608 (constant names)
                   f"VALUES ({', '.join([mark] * len(cols))})")
            conn.exec_driver_sql(sql, rows)

    def flag(b: bool) -> Any:
        return v.true if b else v.false

    many("participant", _P_COLS, [
        (p.external_ref, p.name, p.email, p.channel_pref, flag(p.email_followups), v.now,
         "active", flag(p.is_tester), v.now, v.now) for p in prepared])
    refs = [p.external_ref for p in prepared if p.external_ref]
    ids: dict[str, int] = {}
    for i in range(0, len(refs), _CHUNK):
        ids.update((r, pid) for r, pid in session.execute(
            select(Participant.external_ref, Participant.id).where(
                Participant.external_ref.in_(refs[i:i + _CHUNK]))) if r is not None)
    many("phone", ("participant_id", "e164", "kind"), [
        (ids[p.external_ref or ""], ph.e164, ph.kind) for p in prepared for ph in p.phones])
    many("address", _A_COLS, [
        (ids[p.external_ref or ""], a["label"], a["postcode"], a["pc4"], a["house_number"],
         a["lat"], a["lon"], flag(a["exact"]), a["days_mask"], a["start_minute"],
         a["end_minute"]) for p in prepared for a in p.addresses])
    return ids
