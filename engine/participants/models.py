"""Participants (relatiebeheer): people, their phone numbers and their addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.store.base import Base, utcnow

CHANNEL_PREFS = ("voice", "sms", "both")
STATUSES = ("active", "unsubscribed", "erased")
PHONE_KINDS = ("mobile", "landline")


class Participant(Base):
    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    channel_pref: Mapped[str] = mapped_column(String(8), default="both")
    email_followups: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    is_tester: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    unsubscribed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )

    phones: Mapped[list[Phone]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="Phone.id"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="Address.id"
    )


class Phone(Base):
    __tablename__ = "phone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    #: E.164; unique so that one number can never be reached twice through two participants.
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: Set when a call found the number unallocated (Hangup cause 1); relatiebeheer follows up.
    invalid_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    participant: Mapped[Participant] = relationship(back_populates="phones")


class Address(Base):
    __tablename__ = "address"
    __table_args__ = (
        Index("ix_address_pc4_participant", "pc4", "participant_id"),
        # Exact coordinates are rare; a partial index finds them by latitude band.
        Index("ix_address_exact_lat", "lat", "lon", sqlite_where=text("exact = 1"),
              postgresql_where=text("exact")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(20), default="home")
    postcode: Mapped[str] = mapped_column(String(7), default="")
    pc4: Mapped[str] = mapped_column(String(4))
    house_number: Mapped[str] = mapped_column(String(10), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    #: True when lat/lon are the participant's own coordinates rather than the PC4 centroid.
    exact: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Weekly validity window: bit 0 = Monday .. bit 6 = Sunday; 127 = every day.
    days_mask: Mapped[int] = mapped_column(SmallInteger, default=127)
    #: Minutes after local midnight; both None = all day. end < start wraps past midnight.
    start_minute: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    end_minute: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)

    participant: Mapped[Participant] = relationship(back_populates="addresses")


class ParticipantChange(Base):
    """Which participants changed, written by database triggers on participant, phone and
    address (migration 0005) so that in-memory selection snapshots see every change, also
    those made by code that bypasses the participants service (SMS STOP, IVR, dialer)."""

    __tablename__ = "participant_change"
    # No SQLite AUTOINCREMENT (it costs bulk loads ~10%): ids still only grow, because
    # pruning never deletes the newest row and snapshots read committed rows only.

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: No foreign key: the change of an erased (deleted) participant must outlive it.
    participant_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
