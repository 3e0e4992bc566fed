"""PC4 file formats, postcodes, distances and polygons (no store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidInput
from engine.geo import polygon as poly
from engine.geo.distance import bbox_around, haversine_m, haversine_many, in_netherlands
from engine.geo.importer import read_file
from engine.geo.service import UnknownPostcode, normalize_postcode
from tests.participants_support import GEONAMES


def test_cbs_csv_is_read_with_residents(shared_dir: Path) -> None:
    rows = {r.pc4: r for r in read_file(shared_dir / "data" / "geo" / "nl_pc4.csv")}
    assert len(rows) == 4071
    dev = rows["7411"]
    assert (dev.lat, dev.lon, dev.place, dev.municipality_code) == (52.2524, 6.1595, "Deventer",
                                                                    "GM0150")
    assert dev.residents == 8895 and dev.province == "Overijssel"
    assert any(r.residents is None for r in rows.values())  # suppressed small counts stay None


def test_geonames_full_postcodes_are_averaged_per_pc4(tmp_path: Path) -> None:
    f = tmp_path / "NL.txt"
    f.write_text(GEONAMES, encoding="utf-8")
    rows = {r.pc4: r for r in read_file(f)}
    assert set(rows) == {"7411", "1012"}
    assert (rows["7411"].lat, rows["7411"].lon) == (52.255, 6.16)
    assert rows["7411"].residents is None and rows["1012"].place == "Amsterdam"


@pytest.mark.parametrize(("content", "message"), [
    ("", "unknown format"),
    ("postcode;lat;lon\n7411;52.2;6.1\n", "unknown format"),
    ("pc4,lat,lon\n7411,52.2,6.1\n74x1,52.2,6.1\n", "line 3"),
    ("pc4,lat,lon\n7411,52.2,oost\n", "line 2"),
    (GEONAMES + "this is not geonames\n", "line 4"),
    ("NL\t7411\tDeventer\tOverijssel\t15\tDeventer\t0150\t\t\tnoord\t6.15\t6\n", "line 1"),
])
def test_bad_geo_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "pc4.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        list(read_file(f))


def test_non_utf8_and_missing_geo_file(tmp_path: Path) -> None:
    f = tmp_path / "pc4.csv"
    f.write_bytes("pc4,lat,lon,place\n8861,53.1,5.3,Harlingen Fr\xe2n\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        list(read_file(f))
    with pytest.raises(InvalidInput, match="not found"):
        list(read_file(tmp_path / "missing.csv"))


@pytest.mark.parametrize(("raw", "expected"), [
    ("7411 AB", ("7411", "7411 AB")), ("7411ab", ("7411", "7411 AB")),
    (" 7411 ", ("7411", "7411")),
])
def test_postcode_normalisation(raw: str, expected: tuple[str, str]) -> None:
    assert normalize_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["0411 AB", "741", "7411 A", "7411 ABC", "", "B-1000"])
def test_malformed_postcode_is_refused(raw: str) -> None:
    with pytest.raises(UnknownPostcode):
        normalize_postcode(raw)


def test_distances() -> None:
    # Deventer (7411) to Amsterdam (1012): about 87 km as the crow flies.
    d = haversine_m(52.2524, 6.1595, 52.3735, 4.8951)
    assert 86_000 < d < 88_000
    many = haversine_many(52.2524, 6.1595, np.array([52.2524, 52.3735]),
                          np.array([6.1595, 4.8951]))
    assert many[0] == 0 and many[1] == pytest.approx(d)
    s, w, n, e = bbox_around(52.2524, 6.1595, 5_000)
    assert haversine_m(52.2524, 6.1595, n, 6.1595) == pytest.approx(5_000, rel=1e-3)
    assert haversine_m(52.2524, 6.1595, 52.2524, e) == pytest.approx(5_000, rel=1e-2)
    assert s < 52.2524 < n and w < 6.1595 < e
    assert in_netherlands(52.2524, 6.1595) and not in_netherlands(48.85, 2.35)  # Paris


def test_polygon_contains_and_rejects_crossing_edges() -> None:
    square = [(6.0, 52.0), (6.2, 52.0), (6.2, 52.2), (6.0, 52.2), (6.0, 52.0)]
    ring = poly.validate_ring(square)
    assert len(ring) == 4  # the closing point is dropped
    inside = poly.contains(ring, np.array([6.1, 6.3, 6.1]), np.array([52.1, 52.1, 52.3]))
    assert inside.tolist() == [True, False, False]
    assert poly.bbox(ring) == (52.0, 6.0, 52.2, 6.2)
    with pytest.raises(poly.InvalidPolygon, match="crosses itself"):
        poly.validate_ring([(6.0, 52.0), (6.2, 52.2), (6.2, 52.0), (6.0, 52.2)])
    with pytest.raises(poly.InvalidPolygon, match="3 distinct"):
        poly.validate_ring([(6.0, 52.0), (6.2, 52.2), (6.0, 52.0)])
