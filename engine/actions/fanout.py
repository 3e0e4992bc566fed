"""Durable work for the dialer and the SMS service, written inside the caller's transaction.

Rows are inserted in bulk (Core ``INSERT .. RETURNING``): a 5 km circle in a city selects
thousands of numbers and the first call must be claimable within ~100 ms of the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine.actions.models import Action, ActionTarget, CallAttempt, SmsMessage
from engine.actions.ports import SelectedPhoneLike


@dataclass(frozen=True)
class WaveResult:
    wave: int
    targets: int
    calls: int
    sms: int
    skipped: int

    def as_dict(self) -> dict[str, int]:
        return {"wave": self.wave, "targets": self.targets, "calls": self.calls,
                "sms": self.sms, "skipped": self.skipped}


def effective_channel(action_channels: str, preference: str, phone_kind: str) -> str | None:
    """What one number receives: the participant's preference within the action's channels.

    Landlines only get calls (an SMS to a landline is read out by a robot voice, if at all).
    """
    wanted = _set(action_channels) & _set(preference)
    if phone_kind == "landline":
        return "voice" if "voice" in _set(action_channels) else None
    if not wanted:
        return None
    return "both" if wanted == {"voice", "sms"} else next(iter(wanted))


def _set(channel: str) -> set[str]:
    return {"voice", "sms"} if channel == "both" else {channel}


def next_wave(session: Session, action_id: str) -> tuple[int, int]:
    """(wave number, first rank) for the next batch of targets of an action."""
    row = session.execute(
        select(func.max(ActionTarget.wave), func.max(ActionTarget.rank)).where(
            ActionTarget.action_id == action_id
        )
    ).one()
    if row[0] is None:
        return 0, 1
    return int(row[0]) + 1, int(row[1]) + 1


def write_wave(
    session: Session,
    action: Action,
    entries: Sequence[SelectedPhoneLike],
    *,
    now: datetime,
    sms_segments: int,
) -> WaveResult:
    """Targets, queued call attempts and queued SMS for one wave, nearest first."""
    wave, rank = next_wave(session, action.id)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        channel = effective_channel(action.channels, entry.channel, entry.phone_kind)
        if channel is None:
            continue
        rows.append({"action_id": action.id, "participant_id": entry.participant_id,
                     "e164": entry.e164, "phone_kind": entry.phone_kind, "channel": channel,
                     "distance_m": float(entry.distance_m), "rank": rank + len(rows),
                     "wave": wave})
    if not rows:
        return WaveResult(wave, 0, 0, 0, len(entries))
    stmt = insert(ActionTarget).returning(ActionTarget.id, sort_by_parameter_order=True)
    ids = session.scalars(stmt, rows).all()
    calls = [_call_row(action, tid, row, now) for tid, row in zip(ids, rows, strict=True)
             if row["channel"] in ("voice", "both")]
    texts = [_sms_row(action, tid, row, sms_segments) for tid, row in zip(ids, rows, strict=True)
             if row["channel"] in ("sms", "both")]
    _bulk(session, CallAttempt, calls)
    _bulk(session, SmsMessage, texts)
    return WaveResult(wave, len(rows), len(calls), len(texts), len(entries) - len(rows))


def _call_row(action: Action, target_id: int, row: dict[str, Any], now: datetime,
              purpose: str = "alert") -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "action_id": action.id, "target_id": target_id,
            "e164": row["e164"], "purpose": purpose, "attempt_no": 1, "rank": row["rank"],
            "priority": action.priority, "state": "queued", "due_at": now, "dtmf": ""}


def _sms_row(action: Action, target_id: int, row: dict[str, Any], segments: int,
             purpose: str = "alert", text: str | None = None) -> dict[str, Any]:
    return {"action_id": action.id, "target_id": target_id, "e164": row["e164"],
            "purpose": purpose, "text": action.sms_text if text is None else text,
            "priority": action.priority, "state": "queued", "segments": segments,
            "smsc_ids": []}


def _bulk(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


@dataclass(frozen=True)
class Reached:
    target_id: int
    e164: str
    rank: int
    channel: str  # voice or sms


def reached_targets(session: Session, action_id: str) -> list[Reached]:
    """Everyone the alert reached, with the channel it reached them on.

    ``ActionTarget.reached_by`` is authoritative; where the dialer/SMS service has not set it
    yet, an answered alert call or a submitted/delivered alert SMS counts.
    """
    targets = session.execute(
        select(ActionTarget.id, ActionTarget.e164, ActionTarget.rank, ActionTarget.reached_by)
        .where(ActionTarget.action_id == action_id).order_by(ActionTarget.rank)
    ).all()
    answered = set(session.scalars(
        select(CallAttempt.target_id).where(CallAttempt.action_id == action_id,
                                            CallAttempt.purpose == "alert",
                                            CallAttempt.answered_at.is_not(None))))
    texted = set(session.scalars(
        select(SmsMessage.target_id).where(SmsMessage.action_id == action_id,
                                           SmsMessage.purpose == "alert",
                                           SmsMessage.state.in_(("submitted", "delivered")))))
    out = []
    for tid, e164, rank, reached_by in targets:
        channel = reached_by or ("voice" if tid in answered else "sms" if tid in texted else None)
        if channel in ("voice", "sms"):
            out.append(Reached(tid, e164, rank, channel))
    return out


def write_followups(
    session: Session, action: Action, reached: Iterable[Reached], *, purpose: str,
    sms_text: str, sms_segments: int, now: datetime,
) -> tuple[int, int]:
    """Update/outcome messages to everyone reached, on the channel that reached them."""
    calls, texts = [], []
    for r in reached:
        row = {"e164": r.e164, "rank": r.rank}
        if r.channel == "voice":
            calls.append(_call_row(action, r.target_id, row, now, purpose=purpose))
        else:
            texts.append(_sms_row(action, r.target_id, row, sms_segments, purpose, sms_text))
    _bulk(session, CallAttempt, calls)
    _bulk(session, SmsMessage, texts)
    return len(calls), len(texts)
