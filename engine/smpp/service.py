"""The long-running SMS sender: queued SmsMessage rows in, SMPP submits out, results recorded.

One loop owns the store: it claims rows (priority, then id), hands jobs to the SMSC pool,
and records the events the bind threads report, in batches, one transaction each. It wakes
on Redis ``bnet:sms:wake`` / ``bnet:sms:cancel`` and also polls, so Redis is an accelerator,
never the truth. Delivery reports and MO messages are acknowledged to the SMSC only after the
batch holding them is committed: a crash makes the SMSC deliver them again, nothing is lost.
(Exception: a receipt that overtakes its submit_sm_resp is acknowledged when parked, see
``Recorder._receipt``.)
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import progress
from engine.actions.models import Action, SmsMessage
from engine.config import Settings
from engine.errors import InvalidInput
from engine.smpp import claims, tuning
from engine.smpp.dlr import DlrTracker
from engine.smpp.encoding import sanitize_text, segment
from engine.smpp.jobs import Ack, BindState, Event, SubmitJob
from engine.smpp.pool import SmscPool
from engine.smpp.records import Recorder
from engine.store.db import transaction

log = logging.getLogger(__name__)

WAKE = "bnet:sms:wake"
CANCEL = "bnet:sms:cancel"
STATE_KEY = "bnet:smsc:state"
_BATCH = 2000
_PARKED_MAX_AGE_S = 60.0
#: Claimed jobs go back to the store when no SMSC has had a live bind for this long.
_ALL_DOWN_RELEASE_S = 10.0


class SmsService:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        redis: Any = None,
        *,
        node: str | None = None,
    ):
        self.settings = settings
        self.smpp = settings.smpp
        self.factory = factory
        self.redis = redis
        self.node = node or self.smpp.node or socket.gethostname()
        self.events: queue.SimpleQueue[Event | tuple[str, str]] = queue.SimpleQueue()
        self.tracker = DlrTracker()
        self.recorder = Recorder(self.tracker, self.smpp.resend_uncertain)
        self.inflight: dict[int, SubmitJob] = {}
        self.bind_states: dict[str, BindState] = {}
        self._versions: dict[str, int] = {}
        self._next_poll = 0.0
        self._all_down_since: float | None = None
        self._pubsub_thread: Any = None
        self._unrecorded: list[Event] = []
        with transaction(factory) as session:
            smscs = tuning.effective(session, self.smpp)
            self._versions = tuning.versions(session)
        self.pool = SmscPool(smscs, self.events.put)

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        with transaction(self.factory) as session:
            n = claims.recover(session, self.node)
            self._rebuild_tracker(session)
        if n:
            log.warning("%d SMS were in flight at the last stop: marked uncertain", n)
        self._subscribe()

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.is_set():
                self.step(self.smpp.poll_s)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        if self._pubsub_thread is not None:
            self._pubsub_thread.stop()
            self._pubsub_thread.join(2.0)
        unsent = self.pool.stop()
        while self.drain(0.0):
            pass
        with transaction(self.factory) as session:
            claims.release(session, [job.sms_id for job in unsent])
        for job in unsent:
            self.inflight.pop(job.sms_id, None)

    def _rebuild_tracker(self, session: Session) -> None:
        rows = session.execute(
            select(SmsMessage.id, SmsMessage.smsc, SmsMessage.smsc_ids).where(
                SmsMessage.state == "submitted"
            )
        )
        for sms_id, smsc, ids in rows:
            if smsc and ids:
                self.tracker.register(smsc, sms_id, list(ids))

    def _subscribe(self) -> None:
        if self.redis is None:
            return
        try:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(**{WAKE: self._on_wake, CANCEL: self._on_cancel})
            self._pubsub_thread = pubsub.run_in_thread(
                sleep_time=0.2, daemon=True, exception_handler=self._pubsub_error
            )
        except Exception as exc:  # polling still works without Redis
            log.warning("no Redis wake-ups, polling only: %s", exc)

    @staticmethod
    def _pubsub_error(exc: BaseException, pubsub: Any, thread: Any) -> None:
        # Redis going away must not kill the listener: polling covers the gap, redis-py
        # reconnects on the next read.
        log.warning("Redis wake-up channel: %s", exc)
        time.sleep(1.0)

    def _on_wake(self, message: dict[str, Any]) -> None:
        self.events.put(("wake", ""))

    def _on_cancel(self, message: dict[str, Any]) -> None:
        data = message.get("data", b"")
        text = data.decode() if isinstance(data, bytes) else str(data)
        try:
            action_id = str(json.loads(text).get("action_id", "")) if text[:1] == "{" else text
        except ValueError:
            return
        self.events.put(("cancel", action_id))

    # Loop ---------------------------------------------------------------------------------

    def step(self, timeout: float) -> int:
        """One round: record what happened, look after the store, hand out new work."""
        handled = self.drain(timeout)
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self.smpp.poll_s
            self._housekeeping()
        self._feed()
        return handled

    def drain(self, timeout: float) -> int:
        """Record waiting events; a batch the store refused is kept and tried again."""
        batch = self._unrecorded
        try:
            item = self.events.get(timeout=timeout) if timeout > 0 else self.events.get_nowait()
            while True:
                if isinstance(item, tuple):
                    self._control(item)
                else:
                    batch.append(item)
                if len(batch) >= _BATCH:
                    break
                item = self.events.get_nowait()
        except queue.Empty:
            pass
        if not batch:
            return 0
        try:
            self._record(batch)
        except SQLAlchemyError as exc:
            log.error("could not record %d SMS events, will retry: %s", len(batch), exc)
            time.sleep(0.5)
            return 0
        self._unrecorded = []
        return len(batch)

    def _control(self, item: tuple[str, str]) -> None:
        kind, action_id = item
        if kind == "cancel":
            self._cancel_action(action_id)
        else:
            self._next_poll = 0.0

    def _record(self, batch: list[Event]) -> None:
        acks: list[Ack] = []
        with transaction(self.factory) as session:
            self.recorder.begin(session, batch)
            for event in batch:
                if isinstance(event, BindState):
                    self._bind_state(event)
                    continue
                acks += self.recorder.apply(session, event)
                job = getattr(event, "job", None)
                if job is not None and job.finished:
                    self.inflight.pop(job.sms_id, None)
            self.recorder.finish(session)
        for ack in acks:
            ack()
        self._publish_touched()

    def _publish_touched(self) -> None:
        for action_id, kind in self.recorder.touched.items():
            self._publish(action_id, {"kind": kind, "channel": "sms"})
        self.recorder.touched.clear()

    def _publish(self, action_id: str, payload: dict[str, Any]) -> None:
        try:
            progress.publish(self.redis, action_id, payload)
        except Exception as exc:  # progress is a hint; the store already holds the truth
            log.warning("progress for %s not published: %s", action_id, exc)

    def _bind_state(self, event: BindState) -> None:
        self.bind_states[f"{event.smsc}/{event.bind_no}"] = event
        if self.redis is None:
            return
        try:
            value = f"{event.state}|{event.detail}|{int(time.time())}"
            self.redis.hset(STATE_KEY, f"{event.smsc}/{event.bind_no}", value)
        except Exception as exc:  # status display only
            log.debug("bind state not published: %s", exc)

    def _housekeeping(self) -> None:
        for parked in self.recorder.expire_parked(_PARKED_MAX_AGE_S):
            parked.ack()
        partial = self.recorder.assembler.expire(_PARKED_MAX_AGE_S, time.monotonic())
        with transaction(self.factory) as session:
            for smsc, source, text in partial:
                self.recorder.mo(session, smsc, source, text)
            self._reload(session)
            self._cancel_from_store(session)
            if self.smpp.resend_uncertain == "after_expiry":
                claims.resend_expired_uncertain(session, self.smpp.uncertain_expiry_s)
        self._publish_touched()
        self.pool.failover()
        self._release_if_all_down()

    def _reload(self, session: Session) -> None:
        current = tuning.versions(session)
        if current != self._versions:
            self._versions = current
            self.pool.apply(tuning.effective(session, self.smpp))
            log.info("SMSC settings reloaded")

    def _cancel_from_store(self, session: Session) -> None:
        action_ids = {job.action_id for job in self.inflight.values() if job.action_id}
        if not action_ids:
            return
        cancelled = session.scalars(
            select(Action.id).where(Action.id.in_(action_ids), Action.state == "cancelled")
        )
        for action_id in cancelled:
            self._cancel_action(action_id)

    def _cancel_action(self, action_id: str) -> None:
        for job in self.inflight.values():
            if job.action_id == action_id:
                job.cancelled = True

    def _release_if_all_down(self) -> None:
        now = time.monotonic()
        if any(link.bound() for link in self.pool.links.values()):
            self._all_down_since = None
            return
        self._all_down_since = self._all_down_since or now
        if now - self._all_down_since < _ALL_DOWN_RELEASE_S:
            return
        jobs = [job for link in self.pool.links.values() for job in link.take_untouched()]
        with transaction(self.factory) as session:
            claims.release(session, [job.sms_id for job in jobs])
        for job in jobs:
            self.inflight.pop(job.sms_id, None)

    def _feed(self) -> None:
        room = min(_BATCH, self.pool.capacity() * 2 - self.pool.backlog())
        if room <= 0:
            return
        with transaction(self.factory) as session:
            rows = claims.claim(session, self.node, room)
            rows = claims.drop_unsubscribed(session, rows)
            jobs = [job for row in rows if (job := self._job(session, row)) is not None]
            waiting = [job.sms_id for job in jobs if self.pool.route(job.destination) is None]
            claims.release(session, waiting)
        held = set(waiting)
        jobs = [job for job in jobs if job.sms_id not in held]
        for job in jobs:
            self.inflight[job.sms_id] = job
            if not self.pool.submit(job):
                log.warning("no SMSC route for SMS %d", job.sms_id)

    def _job(self, session: Session, row: SmsMessage) -> SubmitJob | None:
        link = self.pool.route(row.e164)
        try:
            if not self.pool.serves(row.e164):
                raise InvalidInput("no SMSC serves this number prefix")
            claims.check_mobile(row.e164)
            segments = segment(
                sanitize_text(row.text),
                concat=link.settings.concat if link else "udh8",
                ref=row.id,
                max_segments=self.settings.actions.sms_max_segments,
            )
        except InvalidInput as exc:
            claims.mark_failed(session, row, exc.message)
            return None
        row.segments = len(segments)
        return SubmitJob(row.id, row.e164, segments, action_id=row.action_id)
