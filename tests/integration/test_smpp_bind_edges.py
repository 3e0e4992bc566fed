"""One bind against a scripted SMSC that packs PDUs into a single write, to pin edge cases.

The simulator writes each PDU separately, so whether two PDUs reach the bind in one read is
down to timing; here every burst is one ``sendall`` and the case happens on every run.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from engine.sim import smsc_pdu as p
from engine.smpp.bind import BindWorker
from engine.smpp.encoding import segment
from engine.smpp.jobs import DeliveryReport, Event, JobQueue, SubmitJob, Submitted, Uncertain
from engine.smpp.settings import SmscSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]
#: The SMSC's script: given the socket and the bind's sequence number, answer and go on.
Script = Callable[[socket.socket, int], None]


def _recv_pdu(conn: socket.socket) -> tuple[int, int, bytes]:
    header = _recv_exact(conn, 16)
    length, command_id, _status, sequence = p.HEADER.unpack(header)
    return command_id, sequence, _recv_exact(conn, length - 16)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@contextmanager
def _scripted_smsc(script: Script) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            _command, sequence, _body = _recv_pdu(conn)
            # The bind hanging up ends the script: the test looks at what it recorded.
            with contextlib.suppress(OSError):
                script(conn, sequence)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(10)


@contextmanager
def _worker(port: int, inbox: JobQueue, events: list[Event]) -> Iterator[BindWorker]:
    cfg = SmscSettings(name="fake", port=port, response_timeout_s=5.0, reconnect_max_s=0.5)
    worker = BindWorker(0, lambda: cfg, inbox, events.append)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        worker.join(5)


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _bind_resp(sequence: int) -> bytes:
    return p.resp(p.BIND_TRANSCEIVER, sequence, body=b"fake\x00")


def test_receipt_in_the_same_read_as_the_bind_resp_is_handled_and_acknowledged() -> None:
    # A real SMSC sends the receipts it kept for the account as soon as the bind is up.
    acked: list[int] = []
    receipt = p.deliver_sm(
        7,
        source="31612345678",
        destination="Burgernet",
        text=p.receipt_text("abc", "DELIVRD"),
        esm_class=0x04,
    )

    def script(conn: socket.socket, bind_sequence: int) -> None:
        conn.sendall(_bind_resp(bind_sequence) + receipt)
        while not acked:
            command_id, sequence, _ = _recv_pdu(conn)
            if command_id == p.DELIVER_SM | p.RESP:
                acked.append(sequence)

    events: list[Event] = []
    with _scripted_smsc(script) as port, _worker(port, JobQueue(), events):
        _wait(lambda: any(isinstance(e, DeliveryReport) for e in events))
        report = next(e for e in events if isinstance(e, DeliveryReport))
        assert report.receipt.message_id == "abc" and report.receipt.stat == "DELIVRD"
        report.ack()
        _wait(lambda: acked == [7])


def test_submit_answered_just_before_garbage_counts_as_submitted() -> None:
    def script(conn: socket.socket, bind_sequence: int) -> None:
        conn.sendall(_bind_resp(bind_sequence))
        command_id, sequence, _ = _recv_pdu(conn)
        assert command_id == p.SUBMIT_SM
        conn.sendall(p.resp(p.SUBMIT_SM, sequence, body=b"m1\x00") + b"\xde\xad\xbe\xef" * 8)
        conn.recv(1)  # wait for the bind to hang up

    inbox, events = JobQueue(), list[Event]()
    job = SubmitJob(1, "+31612345678", segment("Burgernet test"))
    inbox.push(job)
    with _scripted_smsc(script) as port, _worker(port, inbox, events) as worker:
        _wait(lambda: worker.state == "down" or any(isinstance(e, Uncertain) for e in events))
    assert [type(e) for e in events if isinstance(e, Submitted | Uncertain)] == [Submitted]
    assert job.message_ids == ["m1"]
