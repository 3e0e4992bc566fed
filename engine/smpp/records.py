"""What each bind event means for the store: SmsMessage state, ActionTarget, dossier, progress.

Every change is conditional on the row's current state, so a late or repeated event can never
turn a delivered SMS back into submitted, and the truth wins: an SMS a bind did send is
recorded as sent even if the action was cancelled meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import ActionTarget, SmsMessage
from engine.smpp.dlr import SUCCESS, DlrTracker, Parked
from engine.smpp.jobs import (
    Ack,
    DeliveryReport,
    Event,
    MoMessage,
    Rejected,
    SegmentAccepted,
    Submitted,
    Uncertain,
    Withdrawn,
)
from engine.smpp.mo import MoAssembler, handle_mo
from engine.smpp.protocol import Receipt
from engine.store.base import utcnow

log = logging.getLogger(__name__)
ACTOR = "smpp"
#: Ids per IN (...) list: well under SQLite's bound-parameter limit.
_CHUNK = 500


def _noop() -> None:
    return None


class Recorder:
    """Records a batch of events in one transaction: ``begin``, ``apply`` each, ``finish``.

    Dossier entries are written per action and kind for the whole batch (each listing every
    SMS it covers, numbers under ``personal``), not one per SMS: at 1,000 SMS/s one append
    per event made the dossier the sender's bottleneck.
    """

    def __init__(self, tracker: DlrTracker, resend_rule: str = "never"):
        self.tracker = tracker
        self.resend_rule = resend_rule
        #: Actions changed in the current batch -> progress kind ("sms", "tip", "stop").
        self.touched: dict[str, str] = {}
        self._notes: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
        self._reached: set[int] = set()
        self.assembler = MoAssembler()

    def begin(self, session: Session, events: list[Event]) -> None:
        """Load every row the batch will touch in a few queries instead of one per event."""
        self._notes.clear()
        self._reached.clear()
        ids = {job.sms_id for e in events if (job := getattr(e, "job", None)) is not None}
        for event in events:
            if isinstance(event, DeliveryReport):
                match = self.tracker.match(event.smsc, event.receipt)
                if match is not None:
                    ids.add(match.sms_id)
        wanted = sorted(ids)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            session.scalars(select(SmsMessage).where(SmsMessage.id.in_(chunk))).all()

    def finish(self, session: Session) -> None:
        now = utcnow()
        reached = sorted(self._reached)
        for start in range(0, len(reached), _CHUNK):
            session.execute(
                update(ActionTarget)
                .where(
                    ActionTarget.id.in_(reached[start : start + _CHUNK]),
                    ActionTarget.reached_by.is_(None),
                )
                .values(reached_by="sms", reached_at=now)
            )
        for (action_id, kind), items in self._notes.items():
            dossier.append(
                session,
                action_id,
                actor=ACTOR,
                kind=kind,
                data={"count": len(items), "sms": [data for data, _ in items]},
                personal={f"e164_{data['sms_id']}": e164 for data, e164 in items},
            )
        self._notes.clear()
        self._reached.clear()

    def apply(self, session: Session, event: Event) -> list[Ack]:
        """Record one event; returns acknowledgements to send once the batch is committed."""
        if isinstance(event, Submitted):
            return self._submitted(session, event)
        if isinstance(event, DeliveryReport):
            return self._receipt(session, event.smsc, event.receipt, event.ack)
        if isinstance(event, SegmentAccepted):
            ids: list[str | None] = [None] * len(event.job.segments)
            ids[event.index] = event.message_id
            return self._wake(session, event.smsc, event.job.sms_id, ids)
        if isinstance(event, Rejected):
            self._rejected(session, event)
        elif isinstance(event, Uncertain):
            self._uncertain(session, event)
        elif isinstance(event, Withdrawn):
            self._set_state(session, event.job.sms_id, "cancelled", ("submitting",))
        elif isinstance(event, MoMessage):
            text: str | None = event.text
            if event.part is not None:
                text = self.assembler.add(
                    event.smsc, event.source, event.part, event.text, time.monotonic()
                )
            if text is not None:
                self.mo(session, event.smsc, event.source, text)
            return [event.ack]
        return []

    def mo(self, session: Session, smsc: str, source: str, text: str) -> None:
        kind, action_id = handle_mo(session, source=source, text=text, smsc=smsc)
        if action_id is not None:
            self.touched[action_id] = kind

    def _note(self, session: Session, row: SmsMessage, kind: str, data: dict[str, Any]) -> None:
        if row.action_id is None:
            return
        self.touched.setdefault(row.action_id, "sms")
        item = {"sms_id": row.id, "purpose": row.purpose, **data}
        self._notes.setdefault((row.action_id, kind), []).append((item, row.e164))

    def _submitted(self, session: Session, event: Submitted) -> list[Ack]:
        job, now = event.job, utcnow()
        row = session.get(SmsMessage, job.sms_id)
        if row is None:
            return []
        ids = [m or "" for m in job.message_ids]
        row.state, row.smsc, row.smsc_ids = "submitted", event.smsc, ids
        row.segments, row.submitted_at, row.error = len(ids), now, None
        if row.target_id is not None:
            self._reached.add(row.target_id)
        self._note(session, row, "sms_submitted", {"smsc": event.smsc, "message_ids": ids})
        return self._wake(session, event.smsc, row.id, list(job.message_ids))

    def _wake(self, session: Session, smsc: str, sms_id: int, ids: list[str | None]) -> list[Ack]:
        """Register ids; receipts that were waiting for them are recorded now."""
        acks: list[Ack] = []
        for parked in self.tracker.register(smsc, sms_id, ids):
            acks += self._receipt(session, parked.smsc, parked.receipt, parked.ack)
        return acks

    def _receipt(self, session: Session, smsc: str, receipt: Receipt, ack: Ack) -> list[Ack]:
        match = self.tracker.match(smsc, receipt)
        if match is None:
            # Possibly ahead of its submit_sm_resp: keep it until the id shows. Acknowledge it
            # now all the same: an SMSC that waits for this deliver_sm_resp before it sends the
            # submit_sm_resp would otherwise deadlock with us until a timer fires.
            self.tracker.park(smsc, receipt, _noop)
            return [ack]
        if not receipt.final:
            return [ack]
        row = session.get(SmsMessage, match.sms_id)
        if row is None:
            return [ack]
        segment = {"segment": match.segment + 1, "segments": match.total}
        self._note(session, row, "sms_dlr", {**segment, "stat": receipt.stat, "err": receipt.err})
        overall = self.tracker.record(match, receipt.stat)
        if overall is not None:
            row.dlr_status, row.dlr_at = overall, utcnow()
            if row.state in ("submitted", "uncertain", "submitting"):
                row.state = "delivered" if overall == SUCCESS else "failed"
                if overall != SUCCESS:
                    row.error = f"delivery report {overall} err {receipt.err}"
            self.tracker.forget(smsc, list(row.smsc_ids or []))
        return [ack]

    def _rejected(self, session: Session, event: Rejected) -> None:
        kind = "permanent" if event.permanent else "temporary, attempts used up"
        error = f"SMSC {event.smsc} refused: status 0x{event.status:02X} ({kind})"
        row = self._set_state(session, event.job.sms_id, "failed", ("submitting", "cancelled"))
        if row is not None:
            row.error, row.smsc = error, event.smsc
            self._note(session, row, "sms_failed", {"smsc": event.smsc, "error": error})

    def _uncertain(self, session: Session, event: Uncertain) -> None:
        row = self._set_state(session, event.job.sms_id, "uncertain", ("submitting", "cancelled"))
        if row is None:
            return
        row.smsc, row.submitted_at = event.smsc, utcnow()
        row.smsc_ids = [m or "" for m in event.job.message_ids]
        row.error = f"no answer from SMSC {event.smsc} ({event.reason}); not resent blindly"
        self._note(
            session,
            row,
            "sms_uncertain",
            {"smsc": event.smsc, "reason": event.reason, "resend_rule": self.resend_rule},
        )

    def _set_state(
        self, session: Session, sms_id: int, state: str, allowed: tuple[str, ...]
    ) -> SmsMessage | None:
        row = session.get(SmsMessage, sms_id)
        if row is None or row.state not in allowed:
            return None
        row.state = state
        if row.action_id is not None:
            self.touched.setdefault(row.action_id, "sms")
        return row

    def expire_parked(self, max_age_s: float) -> list[Parked]:
        stale = self.tracker.expire_parked(max_age_s)
        for parked in stale:
            log.warning("delivery report for unknown id via %s acknowledged", parked.smsc)
        return stale
