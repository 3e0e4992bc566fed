"""Relatiebeheer on SQLite and PostgreSQL: register, modify, (un)subscribe, erase."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.actions import dossier
from engine.actions.models import DossierEntry
from engine.errors import Conflict, InvalidInput
from engine.geo.service import OutsideNetherlands, UnknownPostcode
from engine.participants import service
from engine.participants.models import Address, Participant, Phone
from engine.participants.phones import InvalidPhone
from engine.participants.schemas import AddressIn, ParticipantPatch
from engine.textsafe import UnsafeText
from tests.participants_support import Store, person

pytestmark = pytest.mark.integration


def test_register_stores_e164_kinds_geocoded_and_exact_addresses_with_windows(
        geo_store: Store) -> None:
    index = geo_store.index()
    data = person(
        name="Anna de Vries", email="Anna@Example.nl",
        phones=["06-12345678", "0570 612345"],
        addresses=[AddressIn(postcode="7411ab", house_number="12"),
                   AddressIn(label="work", lat=52.2601, lon=6.1702, window="ma-vr 08:00-17:00")],
    )
    with geo_store.factory() as s, s.begin():
        pid = service.register(s, data, index).id
    with geo_store.factory() as s:
        p = service.get(s, pid)
        assert p.status == "active" and p.consent_at is not None
        assert p.email == "anna@example.nl"
        assert {(ph.e164, ph.kind) for ph in p.phones} == {
            ("+31612345678", "mobile"), ("+31570612345", "landline")}
        home, work = p.addresses
        assert (home.postcode, home.pc4, home.exact) == ("7411 AB", "7411", False)
        assert (home.lat, home.lon) == (52.2524, 6.1595)  # the PC4 centroid
        assert (home.days_mask, home.start_minute, home.end_minute) == (127, None, None)
        assert work.exact and (work.lat, work.lon) == (52.2601, 6.1702)
        assert work.pc4.startswith("741")  # nearest PC4 of the exact point
        assert (work.days_mask, work.start_minute, work.end_minute) == (0b0011111, 480, 1020)


@pytest.mark.parametrize(("data", "error"), [
    (person(postcode="1000 AA"), UnknownPostcode),  # 1000 has no centroid in the table
    (person(phone="+32 470 12 34 56"), InvalidPhone),  # Belgian mobile
    (person(phone="06-1234"), InvalidPhone),
    (person(phone="0800 1234"), InvalidPhone),  # service number, not a person
    (person(name="Jan\r\nBcc: x"), UnsafeText),
    (person(name="Jan\x00"), UnsafeText),
    (person(addresses=[AddressIn(lat=50.85, lon=4.35)]), OutsideNetherlands),  # Brussels
    (person(email="not-an-address"), InvalidInput),
    (person(addresses=[AddressIn(postcode="7411", window="ma-vr 25:00-26:00")]), InvalidInput),
])
def test_register_rejects_bad_input_and_stores_nothing(
        geo_store: Store, data: object, error: type[Exception]) -> None:
    index = geo_store.index()
    with pytest.raises(error), geo_store.factory() as s, s.begin():
        service.register(s, data, index)  # type: ignore[arg-type]
    with geo_store.factory() as s:
        assert s.scalar(select(Participant.id)) is None
        assert s.scalar(select(Phone.id)) is None


def test_same_number_cannot_belong_to_two_participants(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        service.register(s, person(phone="0612345678"), index)
    with pytest.raises(Conflict, match="another participant"), geo_store.factory() as s, s.begin():
        service.register(s, person(phone="+31 6 1234 5678", postcode="7412"), index)
    with geo_store.factory() as s:
        assert len(s.scalars(select(Participant.id)).all()) == 1


def test_modify_replaces_phones_and_addresses_and_keeps_others_numbers_safe(
        geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        a = service.register(s, person(phone="0612345678", name="A"), index).id
        b = service.register(s, person(phone="0687654321", name="B"), index).id
    patch = ParticipantPatch(name="A. Bakker", phones=["0611111111", "0612345678"],
                             channel_pref="sms",
                             addresses=[AddressIn(postcode="1012 AB", house_number="3")])
    with geo_store.factory() as s, s.begin():
        service.modify(s, a, patch, index)
    with pytest.raises(Conflict), geo_store.factory() as s, s.begin():
        service.modify(s, b, ParticipantPatch(phones=["0611111111"]), index)
    with geo_store.factory() as s:
        p = service.get(s, a)
        assert p.name == "A. Bakker" and p.channel_pref == "sms"
        assert sorted(ph.e164 for ph in p.phones) == ["+31611111111", "+31612345678"]
        assert [(ad.pc4, ad.postcode) for ad in p.addresses] == [("1012", "1012 AB")]
        assert [ph.e164 for ph in service.get(s, b).phones] == ["+31687654321"]


def test_unsubscribe_and_resubscribe(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        pid = service.register(s, person(), index).id
    with geo_store.factory() as s, s.begin():
        service.unsubscribe(s, pid)
    with geo_store.factory() as s:
        p = service.get(s, pid)
        assert p.status == "unsubscribed" and p.unsubscribed_at is not None
    with geo_store.factory() as s, s.begin():
        assert service.unsubscribe_by_phone(s, "+31699999999") is None
        service.resubscribe(s, pid)
    with geo_store.factory() as s:
        p = service.get(s, pid)
        assert p.status == "active" and p.unsubscribed_at is None
    with geo_store.factory() as s, s.begin():
        unsubscribed = service.unsubscribe_by_phone(s, "+31612345678")
        assert unsubscribed is not None and unsubscribed.id == pid
    with geo_store.factory() as s:
        assert service.get(s, pid).status == "unsubscribed"


def test_erase_removes_personal_data_and_keeps_dossier_verifiable(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        pid = service.register(s, person(phone="0612345678", name="Piet Jansen",
                                         email="piet@example.nl"), index).id
        other = service.register(s, person(phone="0687654321"), index).id
        dossier.append(s, "A1", actor="centralist", kind="created", data={"radius_m": 2000})
        dossier.append(s, "A1", actor="dialer", kind="call_answered", data={"attempt": 1},
                       personal={"e164": "+31612345678", "name": "Piet Jansen"})
        dossier.append(s, "A1", actor="dialer", kind="call_answered", data={"attempt": 2},
                       personal={"e164": "+31687654321"})
        dossier.append(s, "A1", actor="mail", kind="mail_sent", data={},
                       personal={"address": "piet@example.nl"})
    with geo_store.factory() as s, s.begin():
        assert service.erase(s, pid) == 2
    with geo_store.factory() as s:
        p = s.get(Participant, pid)
        assert p is not None
        assert (p.status, p.name, p.email, p.external_ref) == ("erased", "", None, None)
        assert s.scalars(select(Phone.e164).where(Phone.participant_id == pid)).all() == []
        assert s.scalars(select(Address.id).where(Address.participant_id == pid)).all() == []
        with pytest.raises(Conflict):
            service.get(s, pid)
        texts = [str(e.personal) for e in s.scalars(select(DossierEntry))]
        assert not any("Piet" in t or "+31612345678" in t or "piet@" in t for t in texts)
        assert any("+31687654321" in t for t in texts)  # the other participant is untouched
        assert service.get(s, other).status == "active"
        assert dossier.verify(s, "A1").ok
    with geo_store.factory() as s, s.begin():
        s.execute(update(DossierEntry).where(DossierEntry.seq == 3)
                  .values(data={"attempt": 99}))
    with geo_store.factory() as s:
        result = dossier.verify(s, "A1")
        assert not result.ok and result.first_bad_seq == 3


def test_erased_number_can_register_again_as_a_new_participant(geo_store: Store) -> None:
    index = geo_store.index()
    with geo_store.factory() as s, s.begin():
        pid = service.register(s, person(phone="0612345678"), index).id
    with geo_store.factory() as s, s.begin():
        service.erase(s, pid)
    with geo_store.factory() as s, s.begin():
        new = service.register(s, person(phone="0612345678"), index).id
    assert new != pid
