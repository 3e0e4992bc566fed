"""E-mail throughput: queued rows sent over one reused SMTP connection to a local aiosmtpd.

The server runs in its own process (``python -m aiosmtpd`` with the Sink handler) so that it
does not compete with the sender for the GIL, as a real relay would not.

Run 1, uncapped: how many messages per second the engine gets through (claim, compose, SMTP,
record, dossier) against a migrated SQLite store. Run 2, with ``max_per_s`` set: the achieved
rate against the cap. Prints ONE JSON object as its last line.

    .venv/bin/python bench/mail.py [--messages 1000] [--cap 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session, sessionmaker

from engine.embedded import free_port, port_open
from engine.mail.service import send_queued
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade
from tests.mail_support import CollectingHandler, SmtpServer, add_action, add_email

#: Outcome e-mail of a large action (~10,000 addresses) out within ~3.5 minutes; a newsletter
#: to 100,000 participants in about half an hour. Relays usually cap lower than this.
BOUND_MESSAGES_PER_S = 50.0


@contextmanager
def sink_server() -> Iterator[SmtpServer]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-c",
        "aiosmtpd.handlers.Sink",
        "-l",
        f"127.0.0.1:{port}",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("aiosmtpd did not start")
            time.sleep(0.05)
        yield SmtpServer("127.0.0.1", port, CollectingHandler())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _queue(factory: sessionmaker[Session], n: int, tag: str) -> None:
    for i in range(n):
        add_email(factory, f"{tag}{i}@example.nl")


def _run(factory: sessionmaker[Session], srv: SmtpServer, n: int, cap: float) -> float:
    start = time.perf_counter()
    report = send_queued(factory, srv.settings(max_per_s=cap), limit=n)
    elapsed = time.perf_counter() - start
    if report.states != {"sent": n}:
        raise SystemExit(f"not all sent: {dict(report.states)} {report.stopped}")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    # Below the uncapped rate, so that the limiter (not the machine) sets the pace.
    parser.add_argument("--cap", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        add_action(factory)
        with sink_server() as srv:
            _queue(factory, args.messages, "a")
            uncapped = _run(factory, srv, args.messages, 1_000_000)
            capped_n = int(args.cap * 4)
            _queue(factory, capped_n, "b")
            capped = _run(factory, srv, capped_n, args.cap)
        engine.dispose()
    print(f"uncapped: {uncapped:.0f} messages/s over {args.messages}")
    print(f"capped at {args.cap:.0f}/s: {capped:.1f} messages/s over {capped_n}")
    result = {
        "messages_per_s": round(uncapped, 1),
        "bound_messages_per_s": BOUND_MESSAGES_PER_S,
        "ratio": round(uncapped / BOUND_MESSAGES_PER_S, 2),
        "cap_per_s": args.cap,
        "capped_messages_per_s": round(capped, 1),
        "cap_ratio": round(capped / args.cap, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
