"""One SMPP transceiver bind in its own thread: window, TPS bucket, timers, reconnect.

smpplib is blocking and not thread-safe, so each bind owns its socket and its smpplib codec
state in one thread and talks to the rest of the process only through a :class:`JobQueue`
(jobs in) and an ``emit`` callback (events out). The supervisor loop in :meth:`run` is the
only place that reconnects; a session ends by raising :class:`ConnectionLost`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.smpp import codec
from engine.smpp.jobs import (
    BindState,
    DeliveryReport,
    Event,
    JobQueue,
    MoMessage,
    Rejected,
    SegmentAccepted,
    SubmitJob,
    Submitted,
    Uncertain,
    Withdrawn,
)
from engine.smpp.protocol import (
    COMMAND_IDS,
    ESME_RMSGQFUL,
    ESME_RTHROTTLED,
    FramingError,
    StatusClass,
    classify_status,
    is_receipt,
    receipt_from,
)
from engine.smpp.ratelimit import AdaptiveLimit, TokenBucket, combined
from engine.smpp.reader import ConnectionLost, FrameReader
from engine.smpp.settings import SmscSettings

log = logging.getLogger(__name__)
_IDLE_WAIT_S = 0.02
_MAX_THROTTLE_PAUSE_S = 10.0
_BURST_S = 0.2
_SMOOTH_BURST_S = 0.02


class BindRefused(Exception):
    pass


class BindWorker(threading.Thread):
    def __init__(
        self,
        bind_no: int,
        settings: Callable[[], SmscSettings],
        inbox: JobQueue,
        emit: Callable[[Event], None],
    ):
        self.cfg = settings
        super().__init__(name=f"smpp-{self.cfg().name}-{bind_no}", daemon=True)
        self.bind_no = bind_no
        self.inbox = inbox
        self.emit = emit
        self.state = "stopped"
        self.sent = 0
        self._stop_event = threading.Event()
        self._acks: deque[tuple[int, int]] = deque()
        self._generation = 0
        self._reset_session()

    @property
    def learned_tps(self) -> float | None:
        """The SMSC's own rate as learned from its throttling answers (None: never throttled)."""
        return self._learned.limit

    # Supervisor ---------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        backoff = 0.5
        while not self._stop_event.is_set():
            cfg = self.cfg()
            if not cfg.enabled:
                self._set_state("disabled")
                self._stop_event.wait(0.5)
                continue
            if self._connect_and_serve(cfg):
                backoff = 0.5
            if self._stop_event.is_set():
                break
            self._stop_event.wait(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, cfg.reconnect_max_s)
        self._set_state("stopped")

    def _connect_and_serve(self, cfg: SmscSettings) -> bool:
        """True when the bind came up (so the next reconnect starts with a short backoff)."""
        self._set_state("connecting")
        try:
            self._open(cfg)
        except BindRefused as exc:
            self._close("bind refused")
            self._set_state("refused", str(exc))
            return False
        except (OSError, ConnectionLost, FramingError, codec.PduDecodeError) as exc:
            self._close("bind failed")
            self._set_state("down", f"connect: {exc}")
            return False
        self._set_state("bound")
        reason = "stopped"
        try:
            self._serve()
        except (ConnectionLost, OSError, FramingError) as exc:
            reason = str(exc) or type(exc).__name__
            self._set_state("down", reason)
        finally:
            self._close(reason)
        return True

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state or detail:
            log.info("smsc %s bind %d: %s %s", self.cfg().name, self.bind_no, state, detail)
        self.state = state
        self.emit(BindState(self.cfg().name, self.bind_no, state, detail))

    # Connection ---------------------------------------------------------------------------

    def _reset_session(self) -> None:
        now = time.monotonic()
        self._sock: socket.socket | None = None
        self._reader: FrameReader | None = None
        self._seq = codec.Sequencer()
        self._outstanding: dict[int, tuple[SubmitJob, int, float]] = {}
        self._active: deque[SubmitJob] = deque()
        self._bucket = TokenBucket(self.cfg().max_tps, now)
        self._learned = AdaptiveLimit()
        self._pause = self.cfg().throttle_backoff_s
        self._backoff_until = 0.0
        self._last_rx = now
        self._enquire_sent: float | None = None

    def _open(self, cfg: SmscSettings) -> None:
        self._generation += 1
        self._reset_session()
        sock = socket.create_connection((cfg.host, cfg.port), timeout=cfg.response_timeout_s)
        # Without this, Nagle + the peer's delayed ACK hold small PDUs back ~40 ms and cap a
        # window of 50 at ~1,000 submits/s.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._reader = reader = FrameReader(sock)
        bind = codec.encode_bind(
            self._seq, system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type
        )
        sock.sendall(bind)
        deadline = time.monotonic() + cfg.response_timeout_s
        while time.monotonic() < deadline:
            frames = self._read(deadline - time.monotonic())
            for at, frame in enumerate(frames):
                pdu = codec.decode(frame, self._seq)
                if pdu.command in ("bind_transceiver_resp", "generic_nack"):
                    if pdu.status != 0:
                        raise BindRefused(f"bind refused, status 0x{pdu.status:02X}")
                    # Receipts sent right behind the bind_resp are the session's: keep them.
                    reader.hold(frames[at + 1 :])
                    return
        raise ConnectionLost("no bind_transceiver_resp")

    def _read(self, timeout: float) -> list[bytes]:
        assert self._reader is not None
        frames = self._reader.read(timeout)
        if frames:
            self._last_rx = time.monotonic()
        return frames

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(data)

    def _close(self, reason: str) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._reader = None, None
        self._abandon(reason)

    def _abandon(self, reason: str) -> None:
        """Unanswered submits become uncertain; jobs never sent go back for another bind."""
        name = self.cfg().name
        uncertain = {id(job): job for job, _, _ in self._outstanding.values()}
        for job in uncertain.values():
            if not job.finished:
                job.finished = True
                self.emit(Uncertain(name, job, reason))
        for job in reversed(self._active):
            if not job.finished and id(job) not in uncertain:
                self.inbox.push_front(job)
        self._outstanding.clear()
        self._active.clear()

    # Session ------------------------------------------------------------------------------

    def _serve(self) -> None:
        reader = self._reader
        assert reader is not None
        for frame in reader.take_held():
            self._on_frame(frame)
        reader.raise_if_broken()
        # Stopping or disabling ends with an unbind that first lets the window drain.
        while not self._stop_event.is_set() and self.cfg().enabled:
            now = time.monotonic()
            cfg = self.cfg()
            self._apply_rate(now, cfg)
            self._check_timers(now, cfg)
            self._send_acks()
            self._fill_window(now, cfg)
            for frame in self._read(self._wait_time(now, cfg)):
                self._on_frame(frame)
            # Answers ahead of garbage are recorded; nothing more goes on the broken stream.
            reader.raise_if_broken()
        self._unbind()

    def _apply_rate(self, now: float, cfg: SmscSettings) -> None:
        learned = self._learned.current(now)
        # An SMSC that polices its rate usually counts in sub-second slots: once it has
        # refused, send smoothly instead of in 200 ms bursts.
        burst = _SMOOTH_BURST_S if learned is not None else _BURST_S
        self._bucket.set_rate(combined(cfg.max_tps, learned), burst_s=burst)

    def _wait_time(self, now: float, cfg: SmscSettings) -> float:
        if len(self._outstanding) >= cfg.window or not (self._active or len(self.inbox)):
            return _IDLE_WAIT_S
        if now < self._backoff_until:
            return min(_IDLE_WAIT_S, self._backoff_until - now)
        return min(_IDLE_WAIT_S, self._bucket.wait_time(now))

    def _check_timers(self, now: float, cfg: SmscSettings) -> None:
        if self._outstanding:
            _, _, oldest = next(iter(self._outstanding.values()))
            if now - oldest > cfg.response_timeout_s:
                raise ConnectionLost("submit_sm_resp timed out")
        if self._enquire_sent is not None:
            if now - self._enquire_sent > cfg.response_timeout_s:
                raise ConnectionLost("enquire_link_resp timed out")
        elif now - self._last_rx > cfg.enquire_link_s:
            self._send(codec.encode_simple("enquire_link", self._seq))
            self._enquire_sent = now

    def _send_acks(self) -> None:
        while self._acks:
            generation, sequence = self._acks.popleft()
            if generation == self._generation:
                self._send(codec.encode_simple("deliver_sm_resp", self._seq, sequence=sequence))

    def _fill_window(self, now: float, cfg: SmscSettings) -> None:
        while len(self._outstanding) < cfg.window and now >= self._backoff_until:
            job = self._next_job()
            if job is None or not self._bucket.try_take(now):
                return
            index = job.todo.pop(0)
            seg = job.segments[index]
            sequence, data = codec.encode_submit(
                self._seq,
                seg,
                source=cfg.source_addr,
                destination=job.destination,
                registered=cfg.registered_delivery,
            )
            self._outstanding[sequence] = (job, index, now)
            job.unanswered += 1
            self._send(data)
            self.sent += 1

    def _next_job(self) -> SubmitJob | None:
        while self._active:
            job = self._active[0]
            if job.todo and not job.finished and not self._withdrawn(job):
                return job
            self._active.popleft()
        while (queued := self.inbox.pop()) is not None:
            if queued.finished or self._withdrawn(queued):
                continue
            self._active.append(queued)
            return queued
        return None

    def _withdrawn(self, job: SubmitJob) -> bool:
        """A cancelled job is dropped only while untouched; half a message is worse than all."""
        if not (job.cancelled and job.untouched):
            return False
        job.finished = True
        self.emit(Withdrawn(self.cfg().name, job))
        return True

    def _unbind(self) -> None:
        try:
            self._send(codec.encode_simple("unbind", self._seq))
            deadline = time.monotonic() + 1.0
            while self._outstanding and time.monotonic() < deadline:
                for frame in self._read(0.1):
                    self._on_frame(frame)
        except (OSError, ConnectionLost, FramingError):
            pass

    # Incoming PDUs ------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        try:
            pdu = codec.decode(frame, self._seq)
        except codec.PduDecodeError as exc:
            self._on_undecodable(exc)
            return
        if pdu.command in ("submit_sm_resp", "generic_nack"):
            self._on_submit_resp(pdu.sequence, pdu.status, pdu.message_id)
        elif pdu.command == "deliver_sm":
            self._on_deliver(pdu)
        elif pdu.command == "enquire_link":
            self._send(codec.encode_simple("enquire_link_resp", self._seq, sequence=pdu.sequence))
        elif pdu.command == "enquire_link_resp":
            self._enquire_sent = None
        elif pdu.command == "unbind":
            self._send(codec.encode_simple("unbind_resp", self._seq, sequence=pdu.sequence))
            raise ConnectionLost("SMSC unbound")

    def _on_undecodable(self, exc: codec.PduDecodeError) -> None:
        header = exc.header
        if header is None:
            raise FramingError(str(exc))
        if header.command_id == COMMAND_IDS["submit_sm_resp"]:
            # The status in the header is readable even when the body is not.
            self._on_submit_resp(header.sequence, header.status, "")
        elif not header.command_id & 0x80000000:
            # ESME_RINVCMDID (0x03): tell the SMSC we could not read its request.
            self._send(
                codec.encode_simple("generic_nack", self._seq, sequence=header.sequence, status=3)
            )
        log.warning("smsc %s: %s (command_id 0x%08X)", self.cfg().name, exc, header.command_id)

    def _on_submit_resp(self, sequence: int, status: int, message_id: str) -> None:
        entry = self._outstanding.pop(sequence, None)
        if entry is None:
            return
        job, index, _ = entry
        job.unanswered -= 1
        now = time.monotonic()
        cls = classify_status(status)
        if cls is StatusClass.OK:
            self._learned.on_accepted(now)
            self._pause = self.cfg().throttle_backoff_s
            job.message_ids[index] = message_id
            if len(job.segments) > 1 and message_id:
                self.emit(SegmentAccepted(self.cfg().name, job, index, message_id))
            if job.complete and not job.finished:
                job.finished = True
                self.emit(Submitted(self.cfg().name, job))
        elif cls is StatusClass.BACKOFF or (
            cls is StatusClass.TEMPORARY and job.attempts + 1 < self.cfg().max_attempts
        ):
            job.attempts += cls is StatusClass.TEMPORARY
            if status in (ESME_RTHROTTLED, ESME_RMSGQFUL):
                self._learned.on_throttled(now)
            self._retry_later(job, index, now)
        elif not job.finished:
            job.finished = True
            self.emit(Rejected(self.cfg().name, job, status, cls is StatusClass.PERMANENT))

    def _retry_later(self, job: SubmitJob, index: int, now: float) -> None:
        job.todo.insert(0, index)
        if job not in self._active:
            self._active.appendleft(job)
        if now >= self._backoff_until:
            # The rest of a window sent before the pause answers "throttled" too; only a
            # refusal after sending resumed makes the next pause longer.
            self._backoff_until = now + self._pause
            self._pause = min(self._pause * 2, _MAX_THROTTLE_PAUSE_S)

    def _on_deliver(self, pdu: codec.Pdu) -> None:
        generation, sequence = self._generation, pdu.sequence

        def ack() -> None:
            self._acks.append((generation, sequence))

        name = self.cfg().name
        receipt = receipt_from(pdu.text, pdu.receipted_message_id, pdu.message_state)
        if is_receipt(pdu.esm_class) or (receipt is not None and pdu.receipted_message_id):
            if receipt is None:
                log.warning("smsc %s: unreadable delivery receipt acknowledged", name)
                ack()
                return
            self.emit(DeliveryReport(name, receipt, ack))
        else:
            self.emit(MoMessage(name, pdu.source_addr, pdu.text, ack, pdu.concat))
