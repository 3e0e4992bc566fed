"""Durable work for the dialer and the SMS service, written inside the caller's transaction.

A 5 km circle in a city selects thousands of numbers while the first call must be claimable
within ~100 ms of the request; see ``engine.actions.deferred`` for how a large wave is split
(nearest people first, the rest right after) and ``continue_wave`` here for how the second
part keeps the wave number and the nearest-first ranks.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actions.models import Action, ActionTarget, CallAttempt, SmsMessage
from engine.actions.ports import SelectedPhoneLike
from engine.store.base import utcnow as now_utc


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


def next_wave(session: Session, action_id: str, *, continue_wave: bool = False
              ) -> tuple[int, int]:
    """(wave number, first rank) for the next batch of targets of an action."""
    row = session.execute(
        select(func.max(ActionTarget.wave), func.max(ActionTarget.rank)).where(
            ActionTarget.action_id == action_id
        )
    ).one()
    if row[0] is None:
        return 0, 1
    return int(row[0]) + (0 if continue_wave else 1), int(row[1]) + 1


def plan_rows(action: Action, entries: Sequence[SelectedPhoneLike], wave: int, rank: int
              ) -> list[dict[str, Any]]:
    # Thousands of rows: decide channels per (preference, kind) once, read the action once.
    action_id, channels = action.id, action.channels
    decide: dict[tuple[str, str], str | None] = {}
    rows: list[dict[str, Any]] = []
    for entry in entries:
        key = (entry.channel, entry.phone_kind)
        if key not in decide:
            decide[key] = effective_channel(channels, *key)
        channel = decide[key]
        if channel is None:
            continue
        rows.append({"action_id": action_id, "participant_id": entry.participant_id,
                     "e164": entry.e164, "phone_kind": entry.phone_kind, "channel": channel,
                     "distance_m": float(entry.distance_m), "rank": rank + len(rows),
                     "wave": wave, "reached_by": None, "reached_at": None})
    return rows


def write_wave(
    session: Session,
    action: Action,
    entries: Sequence[SelectedPhoneLike],
    *,
    now: datetime,
    sms_segments: int,
    continue_wave: bool = False,
) -> WaveResult:
    """Targets, queued call attempts and queued SMS for one wave, nearest first.

    ``continue_wave`` appends to the last wave (the second part of a split fan-out).
    """
    wave, rank = next_wave(session, action.id, continue_wave=continue_wave)
    rows = plan_rows(action, entries, wave, rank)
    calls, texts = write_rows(session, action, rows, now=now, sms_segments=sms_segments)
    return WaveResult(wave, len(rows), calls, texts, len(entries) - len(rows))


def write_rows(session: Session, action: Action, rows: list[dict[str, Any]], *,
               now: datetime, sms_segments: int) -> tuple[int, int]:
    """Insert planned target rows and their queued calls/SMS; returns (calls, sms)."""
    if not rows:
        return 0, 0
    bulk_insert(session, ActionTarget, rows)
    # Plain executemany plus one indexed read back: INSERT .. RETURNING in parameter order
    # degrades to one statement per row on SQLite.
    ids: dict[str, int] = {e164: tid for e164, tid in session.execute(
        select(ActionTarget.e164, ActionTarget.id).where(
            ActionTarget.action_id == action.id, ActionTarget.wave == rows[0]["wave"],
            ActionTarget.rank.between(rows[0]["rank"], rows[-1]["rank"])))}
    calls = [_call_row(action, ids[row["e164"]], row, now) for row in rows
             if row["channel"] != "sms"]
    texts = [_sms_row(action, ids[row["e164"]], row, sms_segments) for row in rows
             if row["channel"] != "voice"]
    bulk_insert(session, CallAttempt, calls)
    bulk_insert(session, SmsMessage, texts)
    return len(calls), len(texts)


def attempt_id() -> str:
    """A fresh random id in UUIDv7 layout (32 hex, usable as AMI ChannelId).

    Time-ordered ids land at the right edge of the primary-key B-tree: thousands of inserts
    dirty a few pages instead of one random page each (uuid4), which is most of the commit
    time of a large fan-out on SQLite.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | (
        rand & (2**62 - 1))
    return uuid.UUID(int=value).hex


def _call_row(action: Action, target_id: int, row: dict[str, Any], now: datetime,
              purpose: str = "alert") -> dict[str, Any]:
    return {"id": attempt_id(), "action_id": action.id, "target_id": target_id,
            "e164": row["e164"], "purpose": purpose, "attempt_no": 1, "rank": row["rank"],
            "priority": action.priority, "state": "queued", "due_at": now, "dtmf": "",
            "claimed_by": None, "trunk": None, "originated_at": None, "answered_at": None,
            "ended_at": None, "outcome": None, "hangup_cause": None, "dial_status": None,
            "amd_status": None}


def _sms_row(action: Action, target_id: int, row: dict[str, Any], segments: int,
             purpose: str = "alert", text: str | None = None) -> dict[str, Any]:
    return {"action_id": action.id, "target_id": target_id, "e164": row["e164"],
            "purpose": purpose, "text": action.sms_text if text is None else text,
            "priority": action.priority, "state": "queued", "segments": segments,
            "smsc_ids": [], "smsc": None, "claimed_by": None, "submitted_at": None,
            "dlr_status": None, "dlr_at": None, "error": None, "created_at": now_utc()}


def bulk_insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """One DBAPI executemany with SQLAlchemy's own type conversions applied per column.

    Going through ``Connection.execute`` costs more per row than the insert itself (parameter
    construction); every row here carries the same keys, so convert once per column instead.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    table = model.__table__
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    order = list(compiled.positiontup or []) if compiled.positional else list(rows[0])
    convert = [(k, table.c[k].type.bind_processor(dialect)) for k in order]
    if not any(p for _, p in convert):
        values = [tuple(row[k] for k in order) for row in rows]
    else:
        values = [tuple(p(row[k]) if p else row[k] for k, p in convert) for row in rows]
    if compiled.positional:
        conn.exec_driver_sql(str(compiled), values)
    else:
        conn.exec_driver_sql(str(compiled), [dict(zip(order, v, strict=True)) for v in values])


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
    bulk_insert(session, CallAttempt, calls)
    bulk_insert(session, SmsMessage, texts)
    return len(calls), len(texts)
