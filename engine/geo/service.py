"""Geocoding at PC4 level: postcode → centroid, point → nearest PC4 and its municipality."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.geo.distance import haversine_many, in_netherlands
from engine.geo.models import Pc4Area

#: Farther than this from every PC4 centroid is abroad (the IJsselmeer is within ~15 km).
MAX_PC4_DISTANCE_M = 25_000
_POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s*([A-Za-z]{2})?\s*$")


class UnknownPostcode(InvalidInput):
    code = "unknown_postcode"


class OutsideNetherlands(InvalidInput):
    code = "outside_nl"


class GeoDataMissing(InvalidInput):
    code = "geo_data_missing"
    status = 409


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    pc4: str
    place: str
    municipality_code: str
    municipality: str


def normalize_postcode(postcode: str) -> tuple[str, str]:
    """Return (pc4, full postcode like '7411 AB' or '7411')."""
    m = _POSTCODE.match(postcode or "")
    if not m:
        raise UnknownPostcode(f"'{postcode[:12]}' is not a Dutch postcode (e.g. 7411 AB)")
    pc4, letters = m.group(1), (m.group(2) or "").upper()
    return pc4, f"{pc4} {letters}" if letters else pc4


class Pc4Index:
    """All PC4 centroids in memory (≈4,000 rows): point look-ups without a query."""

    def __init__(self, rows: list[Pc4Area]):
        if not rows:
            raise GeoDataMissing(
                "no PC4 table in the store: run 'bnet geo import FILE' (or without FILE for "
                "the bundled GeoNames fallback)"
            )
        self.rows = rows
        self.by_pc4 = {r.pc4: r for r in rows}
        self.lats: npt.NDArray[np.float64] = np.array([r.lat for r in rows], dtype=np.float64)
        self.lons: npt.NDArray[np.float64] = np.array([r.lon for r in rows], dtype=np.float64)

    @classmethod
    def load(cls, session: Session) -> Pc4Index:
        return cls(list(session.scalars(select(Pc4Area))))

    def centroid(self, postcode: str) -> Pc4Area:
        return self.locate(postcode)[0]

    def locate(self, postcode: str) -> tuple[Pc4Area, str]:
        """The PC4 area of ``postcode`` and the postcode written the standard way."""
        pc4, full = normalize_postcode(postcode)
        row = self.by_pc4.get(pc4)
        if row is None:
            raise UnknownPostcode(f"postcode {pc4} is not in the PC4 table")
        return row, full

    def nearest(self, lat: float, lon: float) -> Pc4Area:
        if not in_netherlands(lat, lon):
            raise OutsideNetherlands(f"({lat:.4f}, {lon:.4f}) lies outside the Netherlands")
        d = haversine_many(lat, lon, self.lats, self.lons)
        i = int(np.argmin(d))
        # The bounding box also holds Flanders and a strip of Germany; a point far from every
        # PC4 centroid (Brussels is ~50 km away) is not a Dutch address.
        if d[i] > MAX_PC4_DISTANCE_M:
            raise OutsideNetherlands(
                f"({lat:.4f}, {lon:.4f}) lies outside the Netherlands "
                f"(the nearest postcode area is {d[i] / 1000:.0f} km away)")
        return self.rows[i]

    def within(self, lat: float, lon: float, radius_m: float) -> list[str]:
        d = haversine_many(lat, lon, self.lats, self.lons)
        return [self.rows[i].pc4 for i in np.nonzero(d <= radius_m)[0]]


def resolve_location(
    session: Session,
    *,
    postcode: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    index: Pc4Index | None = None,
) -> Location:
    idx = index or Pc4Index.load(session)
    if lat is not None and lon is not None:
        row = idx.nearest(lat, lon)
        return Location(lat, lon, row.pc4, row.place, row.municipality_code, row.municipality)
    if postcode:
        row = idx.centroid(postcode)
        return Location(row.lat, row.lon, row.pc4, row.place, row.municipality_code,
                        row.municipality)
    raise InvalidInput("give a location: lat/lon or a postcode", code="location_missing")
