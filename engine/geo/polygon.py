"""Polygon areas (GeoJSON order: lon, lat): validation and vectorised point-in-polygon."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.errors import InvalidInput

Ring = list[tuple[float, float]]


class InvalidPolygon(InvalidInput):
    code = "invalid_polygon"


def _segments_cross(a: tuple[float, float], b: tuple[float, float],
                    c: tuple[float, float], d: tuple[float, float]) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(c, d, a), orient(c, d, b)
    d3, d4 = orient(a, b, c), orient(a, b, d)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def validate_ring(ring: Ring) -> Ring:
    pts = [(float(x), float(y)) for x, y in ring]
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        raise InvalidPolygon("a polygon needs at least 3 distinct corners")
    if len(pts) > 500:
        raise InvalidPolygon("a polygon may have at most 500 corners")
    n = len(pts)
    edges = [(pts[i], pts[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                raise InvalidPolygon("the polygon crosses itself; draw its edge without crossings")
    return pts


def contains(ring: Ring, lons: npt.NDArray[np.float64],
             lats: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Even-odd ray casting for many points at once."""
    inside = np.zeros(lons.shape, dtype=bool)
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if y1 == y2:
            continue
        cond = (y1 > lats) != (y2 > lats)
        xcross = x1 + (lats - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cond & (lons < xcross)
    return inside


def bbox(ring: Ring) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon)."""
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return min(ys), min(xs), max(ys), max(xs)
