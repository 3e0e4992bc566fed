"""Reading a participants CSV: encoding check, separator and header detection, rows as
dicts keyed on canonical column names, and a row's conversion to :class:`ParticipantIn`.

No store access: the import's worker processes run this on their share of the file.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

from engine.errors import InvalidInput
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


class MalformedCsv(ImportFileError):
    """The CSV structure breaks at ``line`` (an unclosed quote, a NUL byte): nothing after it
    can be read reliably, while the rows before it are fine."""

    code = "malformed_csv"

    def __init__(self, message: str, *, line: int):
        super().__init__(message)
        self.line = line


def check_utf8(path: Path) -> int:
    """Refuse a file that is empty or not UTF-8 before any row is stored; returns its number
    of lines (the progress bar's total)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"{path.name} is not UTF-8 (byte {offset + exc.start}); "
                    "save it as 'CSV UTF-8' and import again") from exc
            offset += len(chunk)
            lines += chunk.count(b"\n")
    if offset == 0:
        raise ImportFileError(f"{path.name} is empty")
    return lines


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


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
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
        while True:
            start = reader.line_num + 1
            try:
                rec = next(reader, None)
            except csv.Error as exc:
                raise MalformedCsv(
                    f"line {start}: {exc} (an unclosed quote or a binary file?); the file was "
                    "read up to this line: correct it and import it again (rows already "
                    "imported stay as they are)", line=start) from exc
            if rec is None:
                return
            if any(c.strip() for c in rec):
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
