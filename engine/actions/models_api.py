"""Tables the HTTP hook adds: the text of update/outcome messages, and relatiebeheer
confirmation tokens.

``ActionMessage`` lets the dialer and SMS services find what to say for a ``purpose`` other
than the alert (whose text stays on ``Action.voice_script`` / ``Action.sms_text``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, utcnow


class ActionMessage(Base):
    __tablename__ = "action_message"

    action_id: Mapped[str] = mapped_column(ForeignKey("action.id"), primary_key=True)
    #: The ``purpose`` of the CallAttempt/SmsMessage rows carrying it: update, update2, .., outcome
    purpose: Mapped[str] = mapped_column(String(10), primary_key=True)
    voice_script: Mapped[str] = mapped_column(Text, default="")
    sms_text: Mapped[str] = mapped_column(Text, default="")
    audio_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ParticipantConfirmation(Base):
    """A one-time token that confirms a self-service change (stored as sha256)."""

    __tablename__ = "participant_confirmation"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[int] = mapped_column(Integer, index=True)
    #: register, modify or unsubscribe
    purpose: Mapped[str] = mapped_column(String(12))
    #: The pending change for ``modify`` (applied on confirmation).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
