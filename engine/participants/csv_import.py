"""Streaming CSV import of participants with per-row errors.

Accepted rows are committed in batches (a row is whole or absent); rejected rows go to a report
file with their line number and a reason; re-importing the same file changes nothing because
rows are keyed on their external reference. Headers may be Dutch or English, the separator
``;`` or ``,``, with or without a BOM.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from engine.errors import EngineError, InvalidInput
from engine.geo.service import Pc4Index
from engine.participants import bulk, service
from engine.participants.models import Participant
from engine.participants.schemas import AddressIn, ParticipantIn

HEADER_ALIASES = {
    "external_ref": ("external_ref", "referentie", "extern_id", "id", "relatienummer"),
    "name": ("name", "naam"),
    "email": ("email", "e-mail", "emailadres", "e-mailadres"),
    "phone": ("phone", "telefoon", "telefoonnummer", "mobiel", "phone1", "telefoon1"),
    "phone2": ("phone2", "telefoon2", "vast", "tweede_telefoon"),
    "postcode": ("postcode", "zip"),
    "house_number": ("house_number", "huisnummer", "nr"),
    "lat": ("lat", "latitude", "breedtegraad"),
    "lon": ("lon", "longitude", "lengtegraad"),
    "channel": ("channel", "kanaal", "voorkeur"),
    "window": ("window", "tijdvenster", "venster"),
    "work_postcode": ("work_postcode", "postcode_werk", "werkpostcode"),
    "work_window": ("work_window", "tijdvenster_werk"),
    "tester": ("tester", "test"),
    "email_followups": ("email_followups", "email_vervolg", "nieuwsbrief"),
}
_CHANNELS = {"voice": "voice", "spraak": "voice", "bellen": "voice", "sms": "sms",
             "both": "both", "beide": "both", "": "both"}
_TRUE = {"1", "ja", "j", "yes", "y", "true", "waar", "x"}


class ImportFileError(InvalidInput):
    code = "bad_import_file"


@dataclass
class ImportReport:
    accepted: int = 0
    unchanged: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"{path.name} is not UTF-8 (byte {offset + exc.start}); "
                    "save it as 'CSV UTF-8' and import again") from exc
            offset += len(chunk)
    if offset == 0:
        raise ImportFileError(f"{path.name} is empty")


def _columns(header: list[str]) -> dict[str, int]:
    norm = [h.strip().lower().replace(" ", "_") for h in header]
    cols: dict[str, int] = {}
    for key, aliases in HEADER_ALIASES.items():
        for i, h in enumerate(norm):
            if h in aliases:
                cols[key] = i
                break
    if "phone" not in cols or not ({"postcode"} <= cols.keys() or {"lat", "lon"} <= cols.keys()):
        raise ImportFileError(
            "header needs at least a phone column (telefoon) and postcode (or lat and lon); "
            f"found: {', '.join(header)[:200]}")
    return cols


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(8192)
        fh.seek(0)
        if sample.startswith("\ufeff"):
            fh.read(1)
        delimiter = ";" if sample.split("\n", 1)[0].count(";") > sample.split("\n", 1)[0].count(
            ",") else ","
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise ImportFileError(f"{path.name} has no header row")
        cols = _columns(header)
        for rec in reader:
            if not any(c.strip() for c in rec):
                continue
            yield reader.line_num, {k: (rec[i].strip() if i < len(rec) else "")
                                    for k, i in cols.items()}


def row_to_input(row: dict[str, str]) -> ParticipantIn:
    phones = [p for p in (row.get("phone", ""), row.get("phone2", "")) if p]
    home = AddressIn(postcode=row.get("postcode") or None,
                     house_number=row.get("house_number", ""),
                     lat=float(row["lat"].replace(",", ".")) if row.get("lat") else None,
                     lon=float(row["lon"].replace(",", ".")) if row.get("lon") else None,
                     window=row.get("window") or None)
    addresses = [home]
    if row.get("work_postcode"):
        addresses.append(AddressIn(label="work", postcode=row["work_postcode"],
                                   window=row.get("work_window") or "ma-vr 08:00-17:00"))
    channel = _CHANNELS.get(row.get("channel", "").lower())
    if channel is None:
        raise InvalidInput(f"unknown channel '{row.get('channel')}' (spraak, sms or beide)",
                           code="invalid_channel")
    return ParticipantIn(
        external_ref=row.get("external_ref") or None, name=row.get("name", ""),
        email=row.get("email") or None, phones=phones, channel_pref=channel,
        is_tester=row.get("tester", "").lower() in _TRUE,
        email_followups=row.get("email_followups", "").lower() in _TRUE, addresses=addresses)


def import_csv(
    factory: sessionmaker[Session],
    path: Path,
    index: Pc4Index,
    *,
    batch: int = 2_000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    _check_utf8(path)
    report = ImportReport()
    pending: list[tuple[int, ParticipantIn]] = []
    for lineno, row in _rows(path):
        try:
            pending.append((lineno, row_to_input(row)))
        except (ValidationError, ValueError, EngineError) as exc:
            _reject(report, lineno, row.get("external_ref", ""), exc)
        if len(pending) >= batch:
            _commit_batch(factory, pending, index, report)
            if progress:
                progress(len(pending))
            pending.clear()
    if pending:
        _commit_batch(factory, pending, index, report)
        if progress:
            progress(len(pending))
    return report


def _reject(report: ImportReport, lineno: int, ref: str, exc: Exception) -> None:
    report.rejected += 1
    if isinstance(exc, EngineError):
        code, msg = exc.code, exc.message
    elif isinstance(exc, ValidationError):
        err = exc.errors()[0]
        code, msg = "validation_error", f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
    else:
        code, msg = "invalid_value", str(exc)
    report.errors.append((lineno, ref, f"{code}: {msg}"))


def _commit_batch(factory: sessionmaker[Session], items: list[tuple[int, ParticipantIn]],
                  index: Pc4Index, report: ImportReport) -> None:
    with factory() as session, session.begin():
        refs = [d.external_ref for _, d in items if d.external_ref]
        known = {r: pid for r, pid in session.execute(
            select(Participant.external_ref, Participant.id).where(
                Participant.external_ref.in_(refs)))} if refs else {}
        rest = _insert_new(session, items, known, index, report)
        # Held until the batch ends: the session's identity map only keeps weak references.
        loaded = _preload(session, [known[d.external_ref] for _, d in rest
                                    if d.external_ref in known])
        for lineno, data in rest:
            try:
                pid = known.get(data.external_ref) if data.external_ref else None
                if pid is not None and service.same_as(session, pid, data, index):
                    report.unchanged += 1  # read only: no savepoint needed
                    continue
                with session.begin_nested():
                    _apply(session, data, known, index, report)
            except EngineError as exc:
                _reject(report, lineno, data.external_ref or "", exc)
        loaded.clear()


def _preload(session: Session, ids: list[int]) -> list[Participant]:
    """Load known participants with their numbers and addresses in three queries, so that
    comparing a re-imported row (``service.same_as``) needs none."""
    out: list[Participant] = []
    for i in range(0, len(ids), 900):
        out.extend(session.scalars(select(Participant).where(
            Participant.id.in_(ids[i:i + 900])).options(
            selectinload(Participant.phones), selectinload(Participant.addresses))))
    return out


def _insert_new(session: Session, items: list[tuple[int, ParticipantIn]],
                known: dict[str | None, int], index: Pc4Index,
                report: ImportReport) -> list[tuple[int, ParticipantIn]]:
    """Insert the batch's new participants in bulk; return the rows left for the per-row path
    (updates, rows without a reference), in file order."""
    parts = bulk.split(session, items, known, index)
    for lineno, ref, exc in parts.rejected:
        _reject(report, lineno, ref, exc)
    rest = parts.one_by_one
    if parts.fresh:
        try:
            with session.begin_nested():
                known.update(bulk.insert(session, [prep for _, _, prep in parts.fresh]))
            report.accepted += len(parts.fresh)
        except IntegrityError:
            # A concurrent writer took one of these numbers or references meanwhile.
            rest = sorted(rest + [(lineno, data) for lineno, data, _ in parts.fresh],
                          key=lambda item: item[0])
    return rest


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
