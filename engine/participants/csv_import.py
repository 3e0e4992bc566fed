"""Streaming CSV import of participants with per-row errors.

Accepted rows are committed in batches (a row is whole or absent); rejected rows go to a report
file with their line number and a reason; re-importing the same file changes nothing because
rows are keyed on their external reference. Headers may be Dutch or English, the separator
``;`` or ``,``, with or without a BOM.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from engine.errors import EngineError
from engine.geo.service import Pc4Index
from engine.participants import bulk, service
from engine.participants.bulk import Checked, Rejection
from engine.participants.csv_read import (
    ImportFileError,
    MalformedCsv,
    check_utf8,
    row_to_input,
)
from engine.participants.import_check import (
    ROW_ERRORS,
    checked_batches,
    default_workers,
    rejection,
)
from engine.participants.models import Participant
from engine.participants.schemas import ParticipantIn
from engine.store.db import bulk_writer

__all__ = ["ImportFileError", "ImportReport", "import_csv", "write_report"]



@dataclass
class ImportReport:
    accepted: int = 0
    unchanged: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    #: Why reading stopped before the end of the file (a malformed line), if it did.
    stopped: str | None = None

    def merge(self, other: ImportReport) -> None:
        self.accepted += other.accepted
        self.unchanged += other.unchanged
        self.updated += other.updated
        self.rejected += other.rejected
        self.errors.extend(other.errors)


def import_csv(
    factory: sessionmaker[Session],
    path: Path,
    index: Pc4Index,
    *,
    batch: int = 2_000,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import ``path``; ``workers`` processes check rows beside this one (None: one for a big
    file on a machine with a second core, else none). ``on_total`` hears the number of data
    lines before the first row is stored, ``progress`` the rows done after each batch."""
    lines = check_utf8(path)
    if on_total:
        on_total(max(lines - 1, 1))
    report = ImportReport()
    n = default_workers(path) if workers is None else workers
    try:
        with bulk_writer(factory) as writer:
            for checked in checked_batches(path, index, batch, n):
                _commit_batch(writer, checked, index, report)
                if progress:
                    progress(len(checked))
    except MalformedCsv as exc:
        report.stopped = exc.message
        _reject(report, exc.line, "", Rejection(exc.code, exc.message))
    return report


def _reject(report: ImportReport, lineno: int, ref: str, why: Rejection) -> None:
    report.rejected += 1
    report.errors.append((lineno, ref, f"{why.code}: {why.message}"))


def _commit_batch(factory: sessionmaker[Session], items: list[Checked], index: Pc4Index,
                  report: ImportReport) -> None:
    try:
        outcome = _write_batch(factory, items, index, in_bulk=True)
    except _BulkConflict:
        # A concurrent writer took one of these numbers or references between the check and
        # the insert. The batch's transaction is rolled back whole, so no row is half-written;
        # judging each row on its own then gives the right answer for every one.
        outcome = _write_batch(factory, items, index, in_bulk=False)
    report.merge(outcome)


class _BulkConflict(Exception):
    pass


def _write_batch(factory: sessionmaker[Session], items: list[Checked], index: Pc4Index, *,
                 in_bulk: bool) -> ImportReport:
    report = ImportReport()
    with factory() as session, session.begin():
        refs = [row["external_ref"] for _, row, _ in items if row.get("external_ref")]
        known: dict[str | None, int] = {
            ref: pid for ref, pid in bulk.lookup(
                session.connection(),
                "SELECT external_ref, id FROM participant WHERE external_ref IN", refs)}
        rest = _skip_unchanged(session, _insert_new(session, items, known, report), known,
                               report) if in_bulk else items
        inputs = _inputs(rest, report)
        # Held until the batch ends: the session's identity map only keeps weak references.
        loaded = _preload(session, [known[d.external_ref] for _, d in inputs
                                    if d.external_ref in known])
        for lineno, data in inputs:
            try:
                pid = known.get(data.external_ref) if data.external_ref else None
                if pid is not None and service.same_as(session, pid, data, index):
                    report.unchanged += 1  # read only: no savepoint needed
                    continue
                with session.begin_nested():
                    _apply(session, data, known, index, report)
            except EngineError as exc:
                _reject(report, lineno, data.external_ref or "", Rejection.of(exc))
        loaded.clear()
    return report


def _skip_unchanged(session: Session, rows: list[Checked], known: dict[str | None, int],
                    report: ImportReport) -> list[Checked]:
    """Count the known participants the file leaves as they are; return the other rows.

    Only references seen once in the batch qualify: with two rows for one participant the
    second must be compared with what the first wrote, which the per-row path does."""
    seen = Counter(row.get("external_ref") for _, row, _ in rows)
    candidates = [(known[ref], v) for _, row, v in rows
                  if isinstance(v, bulk.Ready) and (ref := row.get("external_ref")) in known
                  and seen[ref] == 1]
    if not candidates:
        return rows
    same = bulk.unchanged(session.connection(), candidates)
    report.unchanged += len(same)
    return [(lineno, row, v) for lineno, row, v in rows
            if known.get(row.get("external_ref")) not in same]


def _inputs(rows: list[Checked], report: ImportReport) -> list[tuple[int, ParticipantIn]]:
    out = []
    for lineno, row, _ in rows:
        try:
            out.append((lineno, row_to_input(row)))
        except ROW_ERRORS as exc:
            _reject(report, lineno, row.get("external_ref", ""), rejection(exc))
    return out


def _preload(session: Session, ids: list[int]) -> list[Participant]:
    """Load known participants with their numbers and addresses in three queries, so that
    comparing a re-imported row (``service.same_as``) needs none."""
    out: list[Participant] = []
    for i in range(0, len(ids), 900):
        out.extend(session.scalars(select(Participant).where(
            Participant.id.in_(ids[i:i + 900])).options(
            selectinload(Participant.phones), selectinload(Participant.addresses))))
    return out


def _insert_new(session: Session, items: list[Checked], known: dict[str | None, int],
                report: ImportReport) -> list[Checked]:
    """Insert the batch's new participants in bulk; return the rows left for the per-row path
    (updates, rows without a reference), in file order.

    No savepoint around the insert: in SQLite a savepoint copies every page it touches to a
    sub-journal first, which cost an import a fifth of its time. The insert is the batch's
    first write, so a conflict rolls back the whole transaction instead."""
    parts = bulk.split(session, items, known)
    for lineno, ref, why in parts.rejected:
        _reject(report, lineno, ref, why)
    if parts.fresh:
        try:
            known.update(bulk.insert(session, parts.fresh))
        except IntegrityError as exc:
            raise _BulkConflict from exc
        report.accepted += len(parts.fresh)
    return parts.one_by_one


def _apply(session: Session, data: ParticipantIn, known: dict[str | None, int],
           index: Pc4Index, report: ImportReport) -> None:
    pid = known.get(data.external_ref) if data.external_ref else None
    if pid is None:
        p = service.register(session, data, index)
        if data.external_ref:
            known[data.external_ref] = p.id
        report.accepted += 1
        return
    if service.same_as(session, pid, data, index):
        report.unchanged += 1
        return
    service.modify(session, pid, service.patch_from(data), index)
    report.updated += 1


def write_report(report: ImportReport, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "external_ref", "error"])
        w.writerows(sorted(report.errors))  # rows fail in two stages; report in file order
