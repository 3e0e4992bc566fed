"""Relatiebeheer: register, modify, unsubscribe, re-subscribe and erase participants."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import (
    ActionTarget,
    CallAttempt,
    EmailMessage,
    InboundCall,
    SmsMessage,
)
from engine.errors import Conflict, InvalidInput, NotFound
from engine.geo.service import Pc4Index, normalize_postcode
from engine.participants.models import Address, Participant, Phone
from engine.participants.phones import ParsedPhone, parse_phone
from engine.participants.schemas import AddressIn, ParticipantIn, ParticipantPatch
from engine.participants.windows import parse_window
from engine.store.base import utcnow
from engine.textsafe import clean_field

_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}$")


class DuplicatePhone(Conflict):
    code = "duplicate_phone"


class InvalidEmail(InvalidInput):
    code = "invalid_email"


class ParticipantGone(Conflict):
    code = "participant_erased"


def _email(value: str | None) -> str | None:
    if not value:
        return None
    v = clean_field(value, "email", max_len=254)
    if not _EMAIL.match(v):
        raise InvalidEmail(f"'{v}' is not an e-mail address")
    return v.lower()


def _phones(session: Session, raw: list[str], owner_id: int | None) -> list[ParsedPhone]:
    parsed: dict[str, ParsedPhone] = {}
    for r in raw:
        p = parse_phone(r)
        parsed[p.e164] = p
    taken = session.execute(
        select(Phone.e164, Phone.participant_id).where(Phone.e164.in_(list(parsed)))
    ).all()
    for e164, pid in taken:
        if pid != owner_id:
            raise duplicate_phone(e164)
    return list(parsed.values())


def _address(a: AddressIn, index: Pc4Index) -> Address:
    return Address(**address_values(a, index))


def address_values(a: AddressIn, index: Pc4Index) -> dict[str, Any]:
    """The validated, geocoded columns of one address (no store access)."""
    window = parse_window(a.window)
    label = clean_field(a.label, "address label", max_len=20) or "home"
    house = clean_field(a.house_number, "house number", max_len=10)
    if a.lat is not None and a.lon is not None:
        area = index.nearest(a.lat, a.lon)
        lat, lon, exact = a.lat, a.lon, True
        _, full = normalize_postcode(a.postcode or area.pc4)
    elif a.postcode:
        area, full = index.locate(a.postcode)
        lat, lon, exact = area.lat, area.lon, False
    else:
        raise InvalidInput("an address needs a postcode or lat/lon", code="address_missing")
    return {"label": label, "postcode": full, "pc4": area.pc4, "house_number": house,
            "lat": lat, "lon": lon, "exact": exact, "days_mask": window.days_mask,
            "start_minute": window.start_minute, "end_minute": window.end_minute}


@dataclass(frozen=True)
class Prepared:
    """A participant checked as far as possible without the store (bulk import)."""

    external_ref: str | None
    name: str
    email: str | None
    channel_pref: str
    email_followups: bool
    is_tester: bool
    phones: list[ParsedPhone]
    addresses: list[dict[str, Any]]


def prepare(data: ParticipantIn, index: Pc4Index) -> Prepared:
    """What :func:`register` checks apart from duplicate references and numbers."""
    ref = clean_field(data.external_ref, "external_ref", max_len=64) if data.external_ref else None
    phones = list({p.e164: p for p in map(parse_phone, data.phones)}.values())
    addresses = [address_values(a, index) for a in data.addresses]
    email = _email(data.email)
    return Prepared(ref, clean_field(data.name, "name", max_len=200), email, data.channel_pref,
                    data.email_followups and bool(data.email), data.is_tester, phones, addresses)


def duplicate_phone(e164: str) -> DuplicatePhone:
    return DuplicatePhone(
        f"phone number ending in {e164[-3:]} already belongs to another participant")


def register(session: Session, data: ParticipantIn, index: Pc4Index) -> Participant:
    ref = clean_field(data.external_ref, "external_ref", max_len=64) if data.external_ref else None
    if ref and session.scalar(select(Participant.id).where(Participant.external_ref == ref)):
        raise Conflict(f"a participant with reference '{ref}' exists", code="duplicate_ref")
    phones = _phones(session, data.phones, None)
    addresses = [_address(a, index) for a in data.addresses]
    p = Participant(
        external_ref=ref, name=clean_field(data.name, "name", max_len=200),
        email=_email(data.email), channel_pref=data.channel_pref,
        email_followups=data.email_followups and bool(data.email), consent_at=utcnow(),
        status="active", is_tester=data.is_tester,
    )
    p.phones = [Phone(e164=x.e164, kind=x.kind) for x in phones]
    p.addresses = addresses
    session.add(p)
    session.flush()
    return p


def get(session: Session, participant_id: int) -> Participant:
    p = session.get(Participant, participant_id)
    if p is None:
        raise NotFound(f"participant {participant_id} not found")
    if p.status == "erased":
        raise ParticipantGone(f"participant {participant_id} was erased")
    return p


def modify(session: Session, participant_id: int, patch: ParticipantPatch,
           index: Pc4Index) -> Participant:
    p = get(session, participant_id)
    if patch.name is not None:
        p.name = clean_field(patch.name, "name", max_len=200)
    if patch.email is not None:
        p.email = _email(patch.email)
    if patch.channel_pref is not None:
        p.channel_pref = patch.channel_pref
    if patch.email_followups is not None:
        p.email_followups = patch.email_followups and bool(p.email)
    if patch.phones is not None:
        phones = _phones(session, patch.phones, p.id)
        p.phones.clear()
        session.flush()
        p.phones.extend(Phone(e164=x.e164, kind=x.kind) for x in phones)
    if patch.addresses is not None:
        new = [_address(a, index) for a in patch.addresses]
        p.addresses.clear()
        p.addresses.extend(new)
    p.updated_at = utcnow()
    session.flush()
    return p


def unsubscribe(session: Session, participant_id: int) -> Participant:
    p = get(session, participant_id)
    if p.status != "unsubscribed":
        p.status, p.unsubscribed_at = "unsubscribed", utcnow()
    session.flush()
    return p


def resubscribe(session: Session, participant_id: int) -> Participant:
    p = get(session, participant_id)
    p.status, p.unsubscribed_at, p.consent_at = "active", None, utcnow()
    session.flush()
    return p


def unsubscribe_by_phone(session: Session, e164: str) -> Participant | None:
    pid = session.scalar(select(Phone.participant_id).where(Phone.e164 == e164))
    return unsubscribe(session, pid) if pid is not None else None


def erase(session: Session, participant_id: int) -> int:
    """Remove personal data; the dossier keeps pseudonyms so its hash chain still verifies.

    Returns the number of dossier entries pseudonymised.
    """
    p = get(session, participant_id)
    numbers = {f"phone{i}": ph.e164 for i, ph in enumerate(p.phones)}
    pseudonym = "erased-" + hashlib.sha256(f"participant:{p.id}".encode()).hexdigest()[:12]
    # Match numbers and e-mail only: names are not unique enough to pseudonymise safely.
    changed = dossier.pseudonymise(session, {**numbers, "email": p.email}, pseudonym)
    _pseudonymise_work_rows(session, list(numbers.values()), pseudonym)
    session.execute(update(EmailMessage).where(EmailMessage.participant_id == p.id)
                    .values(address=f"{pseudonym}@erased.invalid"))
    p.name, p.email, p.external_ref = "", None, None
    p.status, p.unsubscribed_at = "erased", utcnow()
    p.phones.clear()
    p.addresses.clear()
    session.flush()
    return changed


def _pseudonymise_work_rows(session: Session, numbers: list[str], pseudonym: str) -> None:
    for number in numbers:
        # One pseudonym per number keeps (action, number) rows unique after erasure.
        alias = "x-" + hashlib.sha256(f"{pseudonym}:{number}".encode()).hexdigest()[:16]
        for model in (ActionTarget, CallAttempt, SmsMessage):
            session.execute(update(model).where(model.e164 == number).values(e164=alias))
    session.execute(
        update(InboundCall).where(InboundCall.caller_e164.in_(numbers)).values(caller_e164=None)
    )


def patch_from(data: ParticipantIn) -> ParticipantPatch:
    return ParticipantPatch(name=data.name, email=data.email, phones=data.phones,
                            channel_pref=data.channel_pref, email_followups=data.email_followups,
                            addresses=data.addresses)


def same_as(session: Session, participant_id: int, data: ParticipantIn, index: Pc4Index) -> bool:
    """True when ``data`` would not change the stored participant (idempotent re-import)."""
    p = get(session, participant_id)
    phones = {parse_phone(x).e164 for x in data.phones}
    addrs = sorted(_address_key(address_values(a, index)) for a in data.addresses)
    stored = sorted(address_key([getattr(a, f) for f in ADDRESS_KEY_FIELDS]) for a in p.addresses)
    return (p.name == clean_field(data.name, "name", max_len=200)
            and p.email == _email(data.email) and p.channel_pref == data.channel_pref
            and {ph.e164 for ph in p.phones} == phones and stored == addrs)


#: The address columns that decide whether a re-imported address is the stored one.
ADDRESS_KEY_FIELDS = ("label", "postcode", "house_number", "lat", "lon", "days_mask",
                      "start_minute", "end_minute")


def address_key(values: Sequence[Any]) -> tuple[object, ...]:
    """``values`` in the order of :data:`ADDRESS_KEY_FIELDS`; coordinates compare to ~0.1 m."""
    return tuple(round(v, 6) if f in ("lat", "lon") else v
                 for f, v in zip(ADDRESS_KEY_FIELDS, values, strict=True))


def _address_key(a: dict[str, Any]) -> tuple[object, ...]:
    return address_key([a[f] for f in ADDRESS_KEY_FIELDS])
