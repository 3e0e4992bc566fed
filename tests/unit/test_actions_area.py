"""Area validation: circles, polygons, the Netherlands."""

from __future__ import annotations

import pytest

from engine.actions import area
from engine.errors import InvalidInput

DEVENTER = (52.2524, 6.1595)
SQUARE = [[6.14, 52.24], [6.18, 52.24], [6.18, 52.27], [6.14, 52.27], [6.14, 52.24]]


def test_circle_ok() -> None:
    spec = area.circle(*DEVENTER, 5000, max_radius_m=50_000)
    assert spec.to_json() == {"type": "circle", "lat": 52.2524, "lon": 6.1595, "radius_m": 5000}


@pytest.mark.parametrize("radius", [0, -5, 50, 500_000, float("nan")])
def test_radius_out_of_range(radius: float) -> None:
    with pytest.raises(InvalidInput) as info:
        area.circle(*DEVENTER, radius, max_radius_m=50_000)
    assert info.value.code == "invalid_radius"


@pytest.mark.parametrize(("lat", "lon"), [(48.85, 2.35), (52.52, 13.40), (0.0, 0.0)])
def test_outside_the_netherlands(lat: float, lon: float) -> None:
    with pytest.raises(InvalidInput) as info:
        area.circle(lat, lon, 1000, max_radius_m=50_000)
    assert info.value.code == "outside_nl"


def test_polygon_ok_and_closed() -> None:
    spec = area.polygon([SQUARE[:-1]], max_radius_m=50_000)
    ring = spec.to_json()["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert 52.24 < spec.lat < 52.27 and 6.14 < spec.lon < 6.18


def test_self_intersecting_polygon_refused() -> None:
    bowtie = [[6.14, 52.24], [6.18, 52.27], [6.18, 52.24], [6.14, 52.27]]
    with pytest.raises(InvalidInput) as info:
        area.polygon([bowtie], max_radius_m=50_000)
    assert info.value.code == "self_intersecting_polygon"


@pytest.mark.parametrize(
    ("rings", "code"),
    [
        ([], "invalid_area"),
        ([[[6.14, 52.24], [6.18, 52.24]]], "invalid_area"),
        ([[[6.14, 52.24], [6.18], [6.18, 52.27]]], "invalid_area"),
        ([[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86]]], "outside_nl"),
        ([[[3.5, 51.0], [7.0, 51.0], [7.0, 53.5], [3.5, 53.5]]], "area_too_big"),
    ],
)
def test_bad_polygons(rings: list[list[list[float]]], code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        area.polygon(rings, max_radius_m=50_000)
    assert info.value.code == code
