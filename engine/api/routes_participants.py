"""Relatiebeheer self-service: register, modify and unsubscribe, each confirmed by a token.

The relatiebeheer portal calls these on the participant's behalf and delivers the one-time
confirmation token to them (SMS or e-mail); nothing takes effect until it comes back, so
nobody can sign up or unsubscribe someone else's number.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from engine.actions.models_api import ParticipantConfirmation
from engine.api.auth import Principal, require
from engine.api.deps import AppDeps, DbSession, Deps
from engine.errors import EngineError, NotFound
from engine.participants import service
from engine.participants.models import Participant
from engine.participants.schemas import ParticipantIn, ParticipantPatch
from engine.store.base import utcnow

router = APIRouter(tags=["participants"])
Relatiebeheer = Annotated[Principal, Depends(require("relatiebeheer"))]
TOKEN_TTL = timedelta(hours=48)
ParticipantId = Annotated[int, Path(ge=1, le=2**62)]


class TokenGone(EngineError):
    code = "confirmation_invalid"
    status = 410


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=100)


class Pending(BaseModel):
    participant_id: int
    purpose: str
    confirmation_token: str
    expires_at: datetime


class ParticipantOut(BaseModel):
    id: int
    status: str
    name: str
    email: str | None
    channel_pref: str
    email_followups: bool
    phones: list[dict[str, str]]
    addresses: list[dict[str, Any]]


def participant_out(p: Participant) -> ParticipantOut:
    return ParticipantOut(
        id=p.id, status=p.status, name=p.name, email=p.email, channel_pref=p.channel_pref,
        email_followups=p.email_followups,
        phones=[{"e164": ph.e164, "kind": ph.kind} for ph in p.phones],
        addresses=[{"label": a.label, "postcode": a.postcode, "pc4": a.pc4,
                    "house_number": a.house_number} for a in p.addresses])


def _index(deps: AppDeps, session: Session) -> Any:
    if deps.geo is None:
        raise EngineError("geo data is not installed", code="geo_unavailable", status=503)
    return deps.geo.index(session)


def _issue(session: Session, participant_id: int, purpose: str,
           payload: dict[str, Any] | None = None) -> Pending:
    token = secrets.token_urlsafe(24)
    expires = utcnow() + TOKEN_TTL
    session.add(ParticipantConfirmation(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), participant_id=participant_id,
        purpose=purpose, payload=payload or {}, expires_at=expires))
    return Pending(participant_id=participant_id, purpose=purpose, confirmation_token=token,
                   expires_at=expires)


@router.post("/participants", status_code=202, response_model=Pending)
def register(body: ParticipantIn, _: Relatiebeheer, deps: Deps, session: DbSession) -> Pending:
    """Register a participant; they are reached only after confirming the token."""
    with session.begin():
        p = service.register(session, body, _index(deps, session))
        p.status, p.consent_at = "pending", None
        return _issue(session, p.id, "register")


@router.get("/participants/{participant_id}", response_model=ParticipantOut)
def get_participant(participant_id: ParticipantId, _: Relatiebeheer,
                    session: DbSession) -> ParticipantOut:
    with session.begin():
        return participant_out(service.get(session, participant_id))


@router.patch("/participants/{participant_id}", status_code=202, response_model=Pending)
def modify(participant_id: ParticipantId, body: ParticipantPatch, _: Relatiebeheer,
           session: DbSession) -> Pending:
    """Propose a change; it is applied when the participant confirms."""
    with session.begin():
        service.get(session, participant_id)
        return _issue(session, participant_id, "modify", body.model_dump(mode="json",
                                                                          exclude_unset=True))


@router.post("/participants/{participant_id}/unsubscribe", status_code=202,
             response_model=Pending)
def unsubscribe(participant_id: ParticipantId, _: Relatiebeheer, session: DbSession) -> Pending:
    with session.begin():
        service.get(session, participant_id)
        return _issue(session, participant_id, "unsubscribe")


@router.post("/participants/confirm", response_model=ParticipantOut)
def confirm(body: ConfirmIn, _: Relatiebeheer, deps: Deps, session: DbSession
            ) -> ParticipantOut:
    """Apply the registration, change or unsubscription a token stands for (once)."""
    with session.begin():
        row = session.get(ParticipantConfirmation,
                          hashlib.sha256(body.token.encode()).hexdigest())
        if row is None:
            raise NotFound("unknown confirmation token", code="confirmation_unknown")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
            tzinfo=UTC)
        if row.used_at is not None or expires < utcnow():
            raise TokenGone("this confirmation token was used or has expired")
        row.used_at = utcnow()
        p = _apply(session, deps, row)
        return participant_out(p)


def _apply(session: Session, deps: AppDeps, row: ParticipantConfirmation) -> Participant:
    if row.purpose == "register":
        p = service.get(session, row.participant_id)
        if p.status == "pending":
            p.status, p.consent_at = "active", utcnow()
        return p
    if row.purpose == "modify":
        patch = ParticipantPatch.model_validate(row.payload)
        return service.modify(session, row.participant_id, patch, _index(deps, session))
    return service.unsubscribe(session, row.participant_id)
