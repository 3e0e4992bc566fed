"""Synthetic participants: sized from PC4 residents, numbers that cannot reach anyone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.cli import main
from engine.geo.importer import import_pc4_file
from engine.geo.models import Pc4Area
from engine.participants.models import Address, Participant, Phone
from engine.participants.phones import parse_phone
from engine.participants.synth import AREA_BY_PROVINCE, SynthConfig, generate
from engine.store.db import make_engine
from tests.participants_support import GEONAMES

pytestmark = pytest.mark.integration

#: The documented non-reachable ranges (see engine/participants/synth.py).
MOBILE = re.compile(r"^\+319700\d{7}$")
LANDLINE = re.compile(r"^\+31(" + "|".join(set(AREA_BY_PROVINCE.values())) + r")0\d{6}$")


def test_cli_synth_creates_about_residents_times_participation(
        sqlite_url: str, geo_session_factory: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    with geo_session_factory() as s:
        residents = int(s.scalar(select(func.sum(Pc4Area.residents))) or 0)
    assert main(["participants", "synth", "--participation", "0.001"]) == 0
    assert "created" in capsys.readouterr().out
    with geo_session_factory() as s:
        n = s.scalar(select(func.count()).select_from(Participant))
        assert n == pytest.approx(residents * 0.001, rel=0.05)
        phones = s.execute(select(Phone.e164, Phone.kind)).all()
        assert s.scalar(select(func.count()).select_from(Address).where(Address.exact)) > 0
    kinds = {"mobile": 0, "landline": 0}
    for e164, kind in phones:
        assert (MOBILE if kind == "mobile" else LANDLINE).match(e164), e164
        assert parse_phone(e164).kind == kind
        kinds[kind] += 1
    assert 0.6 < kinds["mobile"] / len(phones) < 0.85  # a realistic mix of both
    assert len({e for e, _ in phones}) == len(phones)


def test_cli_synth_refuses_bad_participation_and_missing_geo(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    assert main(["participants", "synth", "--participation", "5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["participants", "synth", "--participation", "0.01"]) == 2
    assert "bnet geo import" in capsys.readouterr().err


def test_even_density_without_resident_counts_and_second_run_adds_new_numbers(
        session_factory: sessionmaker[Session], sqlite_url: str, tmp_path: Path) -> None:
    f = tmp_path / "NL.txt"
    f.write_text(GEONAMES, encoding="utf-8")
    with session_factory() as s, s.begin():
        import_pc4_file(s, f)
    with session_factory() as s:
        areas = list(s.scalars(select(Pc4Area)))
    engine = make_engine(sqlite_url)
    cfg = SynthConfig(participation=0.05, default_residents=2_000)
    with engine.begin() as conn:
        first = generate(conn, areas, cfg)
    with engine.begin() as conn:
        second = generate(conn, areas, SynthConfig(participation=0.05, seed=99))
    engine.dispose()
    assert first == pytest.approx(2 * 2_000 * 0.05, abs=2) and second > 0
    with session_factory() as s:
        per_pc4 = dict(s.execute(select(Address.pc4, func.count()).where(Address.label == "home")
                                 .group_by(Address.pc4)).all())
        assert per_pc4["7411"] == pytest.approx(per_pc4["1012"], abs=2)
        assert s.scalar(select(func.count(func.distinct(Phone.e164)))) == s.scalar(
            select(func.count()).select_from(Phone))
