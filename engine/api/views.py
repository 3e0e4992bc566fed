"""Response bodies (documented in the OpenAPI schema)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from engine.actions.lifecycle import allowed_operations
from engine.actions.models import Action


class ActionOut(BaseModel):
    id: str
    kind: str
    state: str
    priority: int
    region: str
    signalement: str
    channels: str
    callback_number: str
    lat: float
    lon: float
    place: str
    area: dict[str, Any]
    voice_script: str
    sms_text: str
    audio_hash: str | None
    outcome: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    allowed_operations: list[str]


class ActionCreated(ActionOut):
    wave: dict[str, Any] | None = None


class ActionList(BaseModel):
    items: list[ActionOut]
    total: int


class OperationResult(BaseModel):
    action: ActionOut
    result: dict[str, Any]


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))


def action_out(action: Action) -> ActionOut:
    return ActionOut(
        id=action.id, kind=action.kind, state=action.state, priority=action.priority,
        region=action.region, signalement=action.signalement, channels=action.channels,
        callback_number=action.callback_number, lat=action.lat, lon=action.lon,
        place=action.place, area=action.area, voice_script=action.voice_script,
        sms_text=action.sms_text, audio_hash=action.audio_hash, outcome=action.outcome,
        created_by=action.created_by, created_at=_utc(action.created_at) or action.created_at,
        started_at=_utc(action.started_at), ended_at=_utc(action.ended_at),
        allowed_operations=allowed_operations(action.state),
    )
