"""Actions and the durable work records other services consume.

The API writes `ActionTarget`, `CallAttempt`, `SmsMessage` and `EmailMessage` rows in the same
transaction as the action change, so nothing is lost when the dialer, SMS or mail service is down;
they then pick the rows up (announced over Redis/RQ, but the rows are the truth).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, utcnow

ACTION_KINDS = ("suspect", "missing_person", "witness_call", "prevention", "crisis", "test")
ACTION_STATES = ("draft", "running", "closed", "cancelled")
#: Dialer priority per kind: higher is served first when actions share lines.
KIND_PRIORITY = {
    "missing_person": 90,
    "crisis": 80,
    "suspect": 70,
    "witness_call": 50,
    "prevention": 20,
    "test": 10,
}


class Action(Base):
    __tablename__ = "action"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    region: Mapped[str] = mapped_column(String(40), index=True)
    signalement: Mapped[str] = mapped_column(Text)
    channels: Mapped[str] = mapped_column(String(8), default="both")
    callback_number: Mapped[str] = mapped_column(String(20))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(120), default="")
    #: Current area: {"type": "circle", "radius_m": ...} or {"type": "polygon", "coordinates": ...}
    area: Mapped[dict[str, Any]] = mapped_column(JSON)
    voice_script: Mapped[str] = mapped_column(Text, default="")
    sms_text: Mapped[str] = mapped_column(Text, default="")
    tts_backend: Mapped[str | None] = mapped_column(String(16), nullable=True)
    audio_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ActionTarget(Base):
    """One phone number selected for an action (unique per action: nobody is reached twice)."""

    __tablename__ = "action_target"
    __table_args__ = (UniqueConstraint("action_id", "e164"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"), index=True)
    participant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    e164: Mapped[str] = mapped_column(String(20))
    phone_kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(8))
    distance_m: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    #: Channel on which the participant was actually reached (voice/sms), for updates/outcome.
    reached_by: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CallAttempt(Base):
    """One outbound call. ``id`` is the AMI ChannelId, so Asterisk events map back to it."""

    __tablename__ = "call_attempt"
    __table_args__ = (
        Index("ix_call_attempt_due", "state", "priority", "due_at"),
        UniqueConstraint("action_id", "e164", "purpose", "attempt_no"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("action_target.id"))
    e164: Mapped[str] = mapped_column(String(20))
    #: alert, update or outcome: what message the call carries.
    purpose: Mapped[str] = mapped_column(String(10), default="alert")
    attempt_no: Mapped[int] = mapped_column(Integer, default=1)
    rank: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trunk: Mapped[str | None] = mapped_column(String(40), nullable=True)
    originated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    hangup_cause: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dial_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    dtmf: Mapped[str] = mapped_column(String(20), default="")
    amd_status: Mapped[str | None] = mapped_column(String(20), nullable=True)


class SmsMessage(Base):
    __tablename__ = "sms_message"
    __table_args__ = (
        UniqueConstraint("action_id", "e164", "purpose"),
        Index("ix_sms_message_due", "state", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str | None] = mapped_column(ForeignKey("action.id"), nullable=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("action_target.id"), nullable=True)
    e164: Mapped[str] = mapped_column(String(20))
    #: alert, update, outcome, confirm (e.g. the STOP confirmation).
    purpose: Mapped[str] = mapped_column(String(10), default="alert")
    text: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    #: queued, submitting, submitted, delivered, failed, uncertain, cancelled
    state: Mapped[str] = mapped_column(String(12), default="queued")
    segments: Mapped[int] = mapped_column(Integer, default=1)
    smsc: Mapped[str | None] = mapped_column(String(40), nullable=True)
    smsc_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dlr_status: Mapped[str | None] = mapped_column(String(10), nullable=True)
    dlr_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EmailMessage(Base):
    __tablename__ = "email_message"
    __table_args__ = (UniqueConstraint("action_id", "participant_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str | None] = mapped_column(ForeignKey("action.id"), nullable=True)
    participant_id: Mapped[int] = mapped_column(Integer, index=True)
    address: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(12), default="outcome")
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    #: queued, sent, failed, bounced
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)


class DossierEntry(Base):
    """Append-only, hash-chained record of everything that happened in an action."""

    __tablename__ = "dossier_entry"
    __table_args__ = (UniqueConstraint("action_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Hash of the pseudonymisable personal fields, so erasure keeps the chain verifiable.
    personal_hash: Mapped[str] = mapped_column(String(64), default="")
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    pseudonymised: Mapped[bool] = mapped_column(Boolean, default=False)


class InboundCall(Base):
    __tablename__ = "inbound_call"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller_e164: Mapped[str | None] = mapped_column(String(20), nullable=True)
    participant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
