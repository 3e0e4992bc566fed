"""Validation of the area an action reaches: a circle around the incident or a polygon.

Areas arrive as JSON from a dispatch system; everything that would select nobody, the whole
country, or something undefined (a self-intersecting ring) is refused with a clear 422.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.actions import ports
from engine.errors import InvalidInput

#: Generous bounding box of the Netherlands incl. the Wadden and the border strip.
NL_LAT = (50.70, 53.70)
NL_LON = (3.20, 7.30)
MIN_RADIUS_M = 100
MAX_POLYGON_POINTS = 500


class InvalidArea(InvalidInput):
    code = "invalid_area"


class OutsideNetherlands(InvalidInput):
    code = "outside_nl"


def check_in_nl(lat: float, lon: float, what: str = "location") -> None:
    if not (NL_LAT[0] <= lat <= NL_LAT[1] and NL_LON[0] <= lon <= NL_LON[1]):
        raise OutsideNetherlands(f"{what} {lat:.5f},{lon:.5f} lies outside the Netherlands")


@dataclass(frozen=True)
class AreaSpec:
    """A validated area; ``to_json`` is what the action row and the dossier store."""

    kind: str
    lat: float
    lon: float
    radius_m: float = 0.0
    rings: tuple[tuple[tuple[float, float], ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.kind == "circle":
            return {"type": "circle", "lat": self.lat, "lon": self.lon, "radius_m": self.radius_m}
        return {"type": "polygon", "coordinates": [[list(p) for p in r] for r in self.rings]}

    def for_selection(self) -> Any:
        if self.kind == "circle":
            return ports.circle(self.lat, self.lon, self.radius_m)
        return ports.polygon([list(r) for r in self.rings])


def circle(lat: float, lon: float, radius_m: float, max_radius_m: int) -> AreaSpec:
    check_in_nl(lat, lon)
    if not math.isfinite(radius_m) or not MIN_RADIUS_M <= radius_m <= max_radius_m:
        raise InvalidArea(
            f"radius must be between {MIN_RADIUS_M} and {max_radius_m} m, got {radius_m:g}",
            code="invalid_radius",
        )
    return AreaSpec("circle", lat, lon, radius_m=float(radius_m))


def polygon(coordinates: list[list[list[float]]], max_radius_m: int) -> AreaSpec:
    """GeoJSON Polygon coordinates ([[lon, lat], ...] per ring; the first ring is the outline)."""
    if not coordinates:
        raise InvalidArea("a polygon needs at least one ring")
    rings = tuple(_ring(raw, i) for i, raw in enumerate(coordinates))
    outline = rings[0]
    lons = [p[0] for p in outline]
    lats = [p[1] for p in outline]
    lat_c, lon_c = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    half_diag = _metres(min(lats), min(lons), max(lats), max(lons)) / 2
    if half_diag > max_radius_m:
        raise InvalidArea(f"the polygon spans more than {2 * max_radius_m} m", code="area_too_big")
    return AreaSpec("polygon", lat_c, lon_c, radius_m=half_diag, rings=rings)


def _ring(raw: list[list[float]], index: int) -> tuple[tuple[float, float], ...]:
    points: list[tuple[float, float]] = []
    for p in raw:
        if len(p) != 2 or not all(math.isfinite(v) for v in p):
            raise InvalidArea(f"ring {index}: every point is [lon, lat]")
        check_in_nl(p[1], p[0], what=f"polygon point (ring {index})")
        points.append((float(p[0]), float(p[1])))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise InvalidArea(f"ring {index} needs at least 3 distinct points")
    if len(points) > MAX_POLYGON_POINTS:
        raise InvalidArea(f"ring {index} has more than {MAX_POLYGON_POINTS} points")
    if _self_intersects(points):
        raise InvalidArea(f"ring {index} intersects itself", code="self_intersecting_polygon")
    return (*points, points[0])


def _self_intersects(points: list[tuple[float, float]]) -> bool:
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a corner by construction
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _segments_cross(
    p1: tuple[float, float], p2: tuple[float, float], q1: tuple[float, float],
    q2: tuple[float, float],
) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    touching = (
        (d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2))
    )
    return touching


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))
