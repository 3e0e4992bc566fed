"""Delivery-report correlation (pure, in memory): SMSC message id -> (SMS, segment).

The map is rebuilt from ``SmsMessage.smsc_ids`` at start, so a restart loses nothing that was
recorded. A receipt can overtake its submit_sm_resp (the SMSC answers the PDU after the
handset already confirmed); such a receipt is parked in memory until the id shows up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.smpp.jobs import Ack
from engine.smpp.protocol import Receipt, canonical_id, id_forms

#: Receipt words that end a segment's life, and what they make of the whole message.
SUCCESS = "DELIVRD"


@dataclass(frozen=True, slots=True)
class Match:
    sms_id: int
    segment: int  # 0-based
    total: int


@dataclass(frozen=True, slots=True)
class Parked:
    smsc: str
    receipt: Receipt
    ack: Ack
    at: float


class DlrTracker:
    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._parked: dict[tuple[str, str], Parked] = {}
        self._segments: dict[int, list[str | None]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def register(self, smsc: str, sms_id: int, message_ids: list[str | None]) -> list[Parked]:
        """Remember the ids of one submitted SMS; return receipts that were waiting for them."""
        total = len(message_ids)
        woken = []
        for index, message_id in enumerate(message_ids):
            if not message_id:
                continue
            self._ids[(smsc, canonical_id(message_id))] = (sms_id, index, total)
            for form in id_forms(message_id):
                parked = self._parked.pop((smsc, form), None)
                if parked is not None:
                    woken.append(parked)
        return woken

    def match(self, smsc: str, receipt: Receipt) -> Match | None:
        for form in id_forms(receipt.message_id):
            hit = self._ids.get((smsc, form))
            if hit is not None:
                return Match(*hit)
        return None

    def park(self, smsc: str, receipt: Receipt, ack: Ack, now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        self._parked[(smsc, canonical_id(receipt.message_id))] = Parked(smsc, receipt, ack, at)

    def expire_parked(self, max_age_s: float, now: float | None = None) -> list[Parked]:
        """Receipts nobody claimed in time: the caller acknowledges and logs them."""
        now = time.monotonic() if now is None else now
        old = [key for key, p in self._parked.items() if now - p.at > max_age_s]
        return [self._parked.pop(key) for key in old]

    def record(self, match: Match, stat: str) -> str | None:
        """Store one segment's final state; the message's state once every segment has one.

        The message is DELIVRD only when every segment is; otherwise the first failure word.
        """
        states = self._segments.setdefault(match.sms_id, [None] * match.total)
        states[match.segment] = stat
        if any(s is None for s in states):
            return None
        del self._segments[match.sms_id]
        failed = [s for s in states if s != SUCCESS]
        return failed[0] if failed else SUCCESS

    def forget(self, smsc: str, message_ids: list[str | None]) -> None:
        for message_id in message_ids:
            if message_id:
                self._ids.pop((smsc, canonical_id(message_id)), None)
