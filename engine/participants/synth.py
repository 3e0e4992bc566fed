"""Synthetic participants for demo and benchmarks — never real people.

Numbers come from ranges that cannot reach a person:
- mobile: ``+31 97 00xxxxxxx`` — the 097 block is for machine-to-machine data SIMs, and the
  ``0970 0…`` sub-range used here is not handed out to people;
- landline: ``+31 <area> 0xxxxxx`` — Dutch subscriber numbers never start with 0 (that digit is
  the trunk prefix), so these numbers are well-formed but cannot exist.
Areas per province are approximate (the main city's code): realistic enough for cost models.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from engine.geo.models import Pc4Area
from engine.participants.models import Address, Participant, Phone

AREA_BY_PROVINCE = {
    "Groningen": "50", "Fryslân": "58", "Drenthe": "50", "Overijssel": "53",
    "Flevoland": "36", "Gelderland": "26", "Utrecht": "30", "Noord-Holland": "20",
    "Zuid-Holland": "10", "Zeeland": "13", "Noord-Brabant": "40", "Limburg": "43",
}
_FIRST = ("Anna", "Daan", "Emma", "Sem", "Julia", "Lucas", "Sophie", "Finn", "Tess", "Milan",
          "Noor", "Levi", "Sara", "Jesse", "Eva", "Bram", "Lotte", "Thijs", "Fenna", "Ruben")
_LAST = ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
         "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters")


@dataclass(frozen=True)
class SynthConfig:
    participation: float = 0.05
    seed: int = 2013
    #: Used for PC4s without a resident count (even density when the table has none).
    default_residents: int = 2_000
    mobile_share: float = 0.80
    second_number_share: float = 0.10
    exact_share: float = 0.10
    work_address_share: float = 0.08
    tester_share: float = 0.001


def _plan(areas: list[Pc4Area], cfg: SynthConfig, rng: random.Random) -> Iterator[Pc4Area]:
    for area in areas:
        residents = area.residents if area.residents is not None else cfg.default_residents
        expected = residents * cfg.participation
        n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(n):
            yield area


class _Numbers:
    def __init__(self, start: int):
        self.mobile = start
        self.landline: dict[str, int] = {}

    def next_mobile(self) -> str:
        self.mobile += 1
        return f"+319700{self.mobile:07d}"

    def continue_after(self, conn: Connection) -> None:
        """Start each area's landline counter after the numbers an earlier run created."""
        for code in set(AREA_BY_PROVINCE.values()):
            prefix = f"+31{code}0"
            last = conn.execute(select(func.max(Phone.e164)).where(
                Phone.e164 >= prefix, Phone.e164 < prefix + ":",
                func.length(Phone.e164) == len(prefix) + 6)).scalar_one_or_none()
            if last:
                self.landline[code] = int(last[len(prefix):])

    def next_landline(self, province: str) -> str:
        code = AREA_BY_PROVINCE.get(province, "30")
        n = self.landline.get(code, 0) + 1
        self.landline[code] = n
        return f"+31{code}0{n:06d}"


_P_COLS = ("id", "external_ref", "name", "email", "channel_pref", "email_followups",
           "consent_at", "status", "is_tester", "created_at", "updated_at")
_PH_COLS = ("participant_id", "e164", "kind")
_A_COLS = ("participant_id", "label", "postcode", "pc4", "house_number", "lat", "lon", "exact",
           "days_mask", "start_minute", "end_minute")
_TABLES = (("p", Participant, _P_COLS), ("ph", Phone, _PH_COLS), ("a", Address, _A_COLS))


@dataclass(frozen=True)
class DriverValues:
    """Constants already in the driver's form: rows are plain tuples for ``executemany``."""

    now: Any
    true: Any
    false: Any

    @classmethod
    def for_dialect(cls, conn: Connection) -> DriverValues:
        def bind(column: Any, value: Any) -> Any:
            proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            return proc(value) if proc else value

        t = Participant.__table__.c
        return cls(bind(t.created_at, datetime.now(UTC)), bind(t.is_tester, True),
                   bind(t.is_tester, False))


def generate(
    conn: Connection,
    areas: list[Pc4Area],
    cfg: SynthConfig,
    *,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert synthetic participants in batches; returns how many were created."""
    rng = random.Random(cfg.seed)
    first_id = int(conn.execute(select(func.coalesce(func.max(Participant.id), 0))).scalar_one())
    numbers = _Numbers(first_id)
    numbers.continue_after(conn)
    values = DriverValues.for_dialect(conn)
    buf: dict[str, list[tuple[Any, ...]]] = {"p": [], "ph": [], "a": []}
    pid = first_id
    for area in _plan(areas, cfg, rng):
        pid += 1
        _one(pid, area, areas, cfg, rng, numbers, values, buf)
        if len(buf["p"]) >= batch:
            _flush(conn, buf)
            if progress:
                progress(batch)
    rest = len(buf["p"])
    _flush(conn, buf)
    if progress and rest:
        progress(rest)
    return pid - first_id


def _one(pid: int, area: Pc4Area, areas: list[Pc4Area], cfg: SynthConfig, rng: random.Random,
         numbers: _Numbers, v: DriverValues, buf: dict[str, list[tuple[Any, ...]]]) -> None:
    r = rng.random()
    pref = "both" if r < 0.6 else ("sms" if r < 0.85 else "voice")
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    tester = v.true if rng.random() < cfg.tester_share else v.false
    buf["p"].append((pid, f"synth-{cfg.seed}-{pid}", name, None, pref, v.false, v.now,
                     "active", tester, v.now, v.now))
    mobile = rng.random() < cfg.mobile_share
    first = numbers.next_mobile() if mobile else numbers.next_landline(area.province)
    buf["ph"].append((pid, first, "mobile" if mobile else "landline"))
    if rng.random() < cfg.second_number_share:
        buf["ph"].append((pid, numbers.next_landline(area.province), "landline"))
    exact = rng.random() < cfg.exact_share
    lat = area.lat + (rng.uniform(-0.004, 0.004) if exact else 0.0)
    lon = area.lon + (rng.uniform(-0.006, 0.006) if exact else 0.0)
    buf["a"].append(_addr(pid, area, "home", lat, lon, v.true if exact else v.false, rng))
    if rng.random() < cfg.work_address_share:
        work = areas[rng.randrange(len(areas))]
        buf["a"].append(_addr(pid, work, "work", work.lat, work.lon, v.false, rng,
                              (0b0011111, 8 * 60, 17 * 60)))


def _addr(pid: int, area: Pc4Area, label: str, lat: float, lon: float, exact: Any,
          rng: random.Random, window: tuple[int, int | None, int | None] = (127, None, None),
          ) -> tuple[Any, ...]:
    letters = chr(65 + rng.randrange(26)) + chr(65 + rng.randrange(26))
    return (pid, label, f"{area.pc4} {letters}", area.pc4, str(rng.randint(1, 250)), lat, lon,
            exact, *window)


def _flush(conn: Connection, buf: dict[str, list[tuple[Any, ...]]]) -> None:
    # Plain DB-API executemany: SQLAlchemy's per-value processing took half the load time.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for key, model, cols in _TABLES:
        if buf[key]:
            sql = (f"INSERT INTO {model.__tablename__} ({', '.join(cols)}) "  # noqa: S608
                   f"VALUES ({', '.join([mark] * len(cols))})")
            conn.exec_driver_sql(sql, buf[key])
        buf[key].clear()
