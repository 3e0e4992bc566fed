"""Area selection on SQLite and PostgreSQL against a brute-force reference computation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from engine.geo.polygon import InvalidPolygon
from engine.participants import service
from engine.participants.models import Participant, Phone
from engine.participants.schemas import AddressIn
from engine.participants.selection import Circle, Polygon, Selection, select_participants
from engine.participants.windows import NL_TZ
from tests.participants_support import Store, brute_force, person, populate_deventer

pytestmark = pytest.mark.integration

#: A Tuesday at 10:00 in the Netherlands: work addresses count.
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NL_TZ)
DEVENTER = (52.2524, 6.1595)  # PC4 7411


def _select(geo_store: Store, area: Circle | Polygon, at: datetime = TUESDAY_10,
            **kw: object) -> Selection:
    index = geo_store.index()
    with geo_store.factory() as s:
        return select_participants(s, area, at, index=index, **kw)  # type: ignore[arg-type]


def _assert_matches(sel: Selection, expected: dict[str, float], *, check_distance: bool) -> None:
    assert sorted(sel.e164s) == sorted(expected)
    assert len(set(sel.e164s)) == len(sel.e164s)  # one entry per number
    assert sel.distances_m == sorted(sel.distances_m)  # nearest first
    if check_distance:
        for num, d in zip(sel.e164s, sel.distances_m, strict=True):
            assert d == pytest.approx(expected[num], abs=0.5)


def _disable_some(geo_store: Store) -> tuple[set[int], set[str]]:
    """Unsubscribe every 7th participant and flag every 11th number invalid."""
    with geo_store.factory() as s, s.begin():
        pids = s.scalars(select(Participant.id).order_by(Participant.id)).all()
        gone = set(pids[::7])
        s.execute(update(Participant).where(Participant.id.in_(gone))
                  .values(status="unsubscribed"))
        nums = s.scalars(select(Phone.e164).order_by(Phone.id)).all()
        invalid = set(nums[3::11])
        s.execute(update(Phone).where(Phone.e164.in_(invalid))
                  .values(invalid_since=datetime.now(UTC)))
    return gone, invalid


@pytest.mark.parametrize("radius_m", [1_500, 4_000])
def test_circle_selection_equals_brute_force(geo_store: Store, radius_m: int) -> None:
    assert populate_deventer(geo_store) > 300
    gone, invalid = _disable_some(geo_store)
    sel = _select(geo_store, Circle(*DEVENTER, radius_m))
    with geo_store.factory() as s:
        expected = brute_force(s, TUESDAY_10, circle=(*DEVENTER, radius_m))
    assert len(expected) > 50
    _assert_matches(sel, expected, check_distance=True)
    assert not gone & set(sel.participant_ids)
    assert not invalid & set(sel.e164s)
    assert max(sel.distances_m) <= radius_m


def test_counts_per_channel_and_pc4(geo_store: Store) -> None:
    populate_deventer(geo_store)
    sel = _select(geo_store, Circle(*DEVENTER, 3_000))
    with geo_store.factory() as s:
        rows = s.execute(select(Phone.e164, Phone.kind, Participant.channel_pref)
                         .join(Participant)).all()
    info = {e: (k, c) for e, k, c in rows}
    voice = sum(1 for n in sel.e164s if info[n][1] != "sms")
    sms = sum(1 for n in sel.e164s if info[n][1] != "voice" and info[n][0] == "mobile")
    assert sel.count_by_channel == {"voice": voice, "sms": sms}
    assert sum(sel.count_by_pc4.values()) == len(sel)
    assert set(sel.count_by_pc4) <= {"7411", "7412", "7413", "7414", "7415", "7416", "7417",
                                     "7418", "7419", "7421", "7422", "7423", "7424", "7433"}


def test_exclude_set_is_not_selected_again_when_the_area_grows(geo_store: Store) -> None:
    populate_deventer(geo_store)
    first = _select(geo_store, Circle(*DEVENTER, 1_500))
    bigger = _select(geo_store, Circle(*DEVENTER, 4_000), exclude_e164=frozenset(first.e164s))
    with geo_store.factory() as s:
        expected = brute_force(s, TUESDAY_10, circle=(*DEVENTER, 4_000),
                               exclude=frozenset(first.e164s))
    assert len(first) > 0 and len(bigger) > 0
    assert not set(first.e164s) & set(bigger.e164s)
    _assert_matches(bigger, expected, check_distance=True)


def test_testers_only(geo_store: Store) -> None:
    populate_deventer(geo_store)
    sel = _select(geo_store, Circle(*DEVENTER, 5_000), testers_only=True)
    with geo_store.factory() as s:
        expected = brute_force(s, TUESDAY_10, circle=(*DEVENTER, 5_000), testers_only=True)
        testers = set(s.scalars(select(Participant.id).where(Participant.is_tester)))
    assert len(expected) > 0
    _assert_matches(sel, expected, check_distance=True)
    assert set(sel.participant_ids) <= testers


def test_number_is_listed_once_at_its_nearest_address(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        service.register(s, person(phone="0612345678", addresses=[
            AddressIn(postcode="7433"), AddressIn(label="work", postcode="7411")]), index)
    sel = _select(geo_store, Circle(*DEVENTER, 5_000))
    assert sel.e164s == ["+31612345678"]
    assert sel.pc4s == ["7411"] and sel.distances_m == [0.0]


def test_work_address_counts_only_inside_its_weekly_window(geo_store: Store) -> None:
    index = geo_store.index()
    work = AddressIn(label="work", postcode="7411 AB", window="ma-vr 08:00-17:00")
    with geo_store.factory() as s, s.begin():
        service.register(s, person(phone="0612345678", addresses=[
            AddressIn(postcode="1012 AB"), work]), index)
    area = Circle(*DEVENTER, 2_000)
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=NL_TZ)
    assert _select(geo_store, area, monday).e164s == ["+31612345678"]
    # The same instant expressed in UTC is the same moment.
    assert _select(geo_store, area, monday.astimezone(UTC)).e164s == ["+31612345678"]
    assert len(_select(geo_store, area, datetime(2026, 11, 22, 10, 0, tzinfo=NL_TZ))) == 0  # Sunday
    assert len(_select(geo_store, area, datetime(2026, 11, 23, 20, 0, tzinfo=NL_TZ))) == 0
    # 07:30 Amsterdam is 06:30 UTC: before the window, though 08:00 UTC would be inside.
    assert len(_select(geo_store, area, datetime(2026, 11, 23, 7, 30, tzinfo=NL_TZ))) == 0


def test_unsubscribed_participant_is_never_selected_until_resubscribed(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        pid = service.register(s, person(phone="0612345678"), index).id
        service.unsubscribe(s, pid)
    area = Circle(*DEVENTER, 2_000)
    assert len(_select(geo_store, area)) == 0
    with geo_store.factory() as s, s.begin():
        service.resubscribe(s, pid)
    assert _select(geo_store, area).e164s == ["+31612345678"]


def test_polygon_selection_equals_brute_force(geo_store: Store) -> None:
    populate_deventer(geo_store)
    # An L-shaped outline around the centre and the east of Deventer (GeoJSON lon, lat).
    ring = [(6.13, 52.24), (6.23, 52.24), (6.23, 52.255), (6.17, 52.255), (6.17, 52.28),
            (6.13, 52.28), (6.13, 52.24)]
    sel = _select(geo_store, Polygon([ring]))
    with geo_store.factory() as s:
        expected = brute_force(s, TUESDAY_10, ring=ring)
    assert len(expected) > 20
    _assert_matches(sel, expected, check_distance=False)
    assert "7433" not in sel.count_by_pc4  # Schalkhaar lies in the notch of the L


def test_self_intersecting_polygon_is_refused(geo_store: Store) -> None:
    bowtie = [(6.13, 52.24), (6.20, 52.28), (6.20, 52.24), (6.13, 52.28), (6.13, 52.24)]
    with pytest.raises(InvalidPolygon, match="crosses itself"):
        _select(geo_store, Polygon([bowtie]))
