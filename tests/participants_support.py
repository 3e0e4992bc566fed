"""Shared helpers for the geo/participants/store tests: stores on SQLite and PostgreSQL, a PC4
table, a small synthetic population around Deventer and a brute-force reference selection."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from engine.geo import polygon as poly
from engine.geo.distance import haversine_m
from engine.geo.importer import import_pc4_file
from engine.geo.models import Pc4Area
from engine.geo.service import Pc4Index
from engine.participants.models import Participant
from engine.participants.schemas import AddressIn, ParticipantIn
from engine.participants.synth import SynthConfig, generate
from engine.participants.windows import Window
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade

#: Deventer and its villages: a few thousand residents each, within ~10 km of 7411.
DEVENTER_PC4S = ("7411", "7412", "7413", "7414", "7415", "7416", "7417", "7418", "7419",
                 "7421", "7422", "7423", "7424", "7425", "7429", "7431", "7433", "7437")

#: A GeoNames NL sample: a bare PC4 and a full postcode of the same PC4 (averaged), Amsterdam.
GEONAMES = (
    "NL\t7411\tDeventer\tOverijssel\t15\tDeventer\t0150\t\t\t52.2500\t6.1500\t6\n"
    "NL\t7411 AB\tDeventer\tOverijssel\t15\tDeventer\t0150\t\t\t52.2600\t6.1700\t8\n"
    "NL\t1012 JS\tAmsterdam\tNoord-Holland\t07\tAmsterdam\t0363\t\t\t52.3731\t4.8922\t8\n"
)


@dataclass
class Store:
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def index(self) -> Pc4Index:
        with self.factory() as s:
            return Pc4Index.load(s)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    _prepare(f"sqlite:///{path}", shared_dir)
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_server: str, shared_dir: Path) -> str:
    _admin(pg_server, f"CREATE DATABASE {_TEMPLATE}")
    _prepare(_with_db(pg_server, _TEMPLATE), shared_dir)
    return pg_server


def _prepare(url: str, shared_dir: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session, session.begin():
        import_pc4_file(session, shared_dir / "data" / "geo" / "nl_pc4.csv")
    engine.dispose()


_TEMPLATE = "bnet_participants_tmpl"
_counter = itertools.count()


def _with_db(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


def _admin(server_url: str, sql: str) -> None:
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def geo_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store with the CBS PC4 table, once on SQLite and once on PostgreSQL.

    Each test gets a copy of a session-wide template (a file copy, or CREATE DATABASE ...
    TEMPLATE) so that migrating and importing happens once, not per test.
    """
    if request.param == "sqlite":
        path = tmp_path / "bnet.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        url, drop = f"sqlite:///{path}", None
    else:
        server = request.getfixturevalue("_pg_template")
        name = f"bnet_t{next(_counter)}"
        _admin(server, f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE} STRATEGY FILE_COPY")
        url, drop = _with_db(server, name), name
    engine = make_engine(url)
    yield Store(url, engine, make_sessionmaker(engine))
    engine.dispose()
    if drop:
        _admin(server, f"DROP DATABASE {drop}")


def person(phone: str = "06 12345678", postcode: str = "7411 AB", **kw: object) -> ParticipantIn:
    """A participant living at ``postcode`` (extra fields via keywords)."""
    addresses = kw.pop("addresses", None) or [AddressIn(postcode=postcode, house_number="1")]
    phones = kw.pop("phones", None) or [phone]
    return ParticipantIn(phones=phones, addresses=addresses, **kw)  # type: ignore[arg-type]


def populate_deventer(store: Store, participation: float = 0.01, seed: int = 7) -> int:
    """Synthetic participants in :data:`DEVENTER_PC4S` (about 1 per 100 residents)."""
    with store.factory() as s:
        areas = list(s.scalars(select(Pc4Area).where(Pc4Area.pc4.in_(DEVENTER_PC4S))
                               .order_by(Pc4Area.pc4)))
    cfg = SynthConfig(participation=participation, seed=seed, work_address_share=0.2,
                      second_number_share=0.2, exact_share=0.3, tester_share=0.05)
    with store.engine.begin() as conn:
        return generate(conn, areas, cfg)


def brute_force(session: Session, at: datetime, *, circle: tuple[float, float, float] | None = None,
                ring: list[tuple[float, float]] | None = None,
                exclude: frozenset[str] = frozenset(),
                testers_only: bool = False) -> dict[str, float]:
    """Reference selection in plain Python: {number: distance of its nearest valid address}."""
    best: dict[str, float] = {}
    stmt = select(Participant).options(selectinload(Participant.phones),
                                       selectinload(Participant.addresses))
    for p in session.scalars(stmt):
        if p.status != "active" or p.consent_at is None or (testers_only and not p.is_tester):
            continue
        for a in p.addresses:
            if not Window(a.days_mask, a.start_minute, a.end_minute).contains(at):
                continue
            d = _distance_if_inside(a.lat, a.lon, circle, ring)
            if d is None:
                continue
            for ph in p.phones:
                if ph.invalid_since is None and ph.e164 not in exclude:
                    best[ph.e164] = min(d, best.get(ph.e164, d))
    return best


def _distance_if_inside(lat: float, lon: float, circle: tuple[float, float, float] | None,
                        ring: list[tuple[float, float]] | None) -> float | None:
    if circle is not None:
        d = haversine_m(circle[0], circle[1], lat, lon)
        return d if d <= circle[2] else None
    assert ring is not None
    if not _point_in_ring(lon, lat, poly.validate_ring(ring)):
        return None
    return 0.0  # polygon distances are checked for order only


def _point_in_ring(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
