"""Helpers for SMPP tests: the simulator in a background loop, store rows, waiting."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import Action, ActionTarget, DossierEntry, SmsMessage
from engine.config import Settings
from engine.participants.models import Participant, Phone
from engine.sim.smsc import SmscFaults, SmscSimulator
from engine.smpp.settings import SmppSettings, SmscSettings
from engine.store.db import transaction


class BackgroundSmsc:
    """The asyncio simulator on its own thread, so blocking client code can talk to it."""

    def __init__(self, faults: SmscFaults | None = None):
        self.sim = SmscSimulator(faults=faults)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> BackgroundSmsc:
        self._thread.start()
        self.call(self.sim.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def send_mo(self, source: str, text: str) -> None:
        self.call(self.sim.send_mo(source, text))

    def drop_all(self) -> None:
        def close() -> None:
            for session in list(self.sim.sessions):
                session.close()

        self.loop.call_soon_threadsafe(close)

    @property
    def port(self) -> int:
        return self.sim.port


def smsc_settings(port: int, **overrides: Any) -> SmscSettings:
    values: dict[str, Any] = {
        "name": "sim",
        "port": port,
        "window": 10,
        "response_timeout_s": 2.0,
        "reconnect_max_s": 0.5,
        "throttle_backoff_s": 0.05,
        "enquire_link_s": 5.0,
    }
    values.update(overrides)
    return SmscSettings(**values)


def app_settings(*smscs: SmscSettings, **smpp: Any) -> Settings:
    return Settings(smpp=SmppSettings(smscs=list(smscs), poll_s=0.1, node="test", **smpp))


def seed_action(session: Session, action_id: str = "act1") -> str:
    session.add(
        Action(
            id=action_id,
            kind="suspect",
            state="running",
            region="oost-nederland",
            signalement="Man, rode jas",
            callback_number="0800-0011",
            lat=52.0,
            lon=6.0,
            area={"type": "circle", "radius_m": 2000},
            created_by="test",
        )
    )
    session.flush()
    return action_id


def seed_sms(
    session: Session,
    action_id: str | None,
    e164: str,
    text: str = "Burgernet: man met rode jas gezien? Bel 0800-0011.",
    *,
    purpose: str = "alert",
    participant: bool = True,
    priority: int = 50,
) -> int:
    target_id = None
    if participant:
        p = Participant(name="Test", status="active")
        p.phones.append(Phone(e164=e164, kind="mobile"))
        session.add(p)
        session.flush()
    if action_id is not None:
        target = ActionTarget(
            action_id=action_id,
            participant_id=None,
            e164=e164,
            phone_kind="mobile",
            channel="sms",
            distance_m=100.0,
            rank=1,
        )
        session.add(target)
        session.flush()
        target_id = target.id
    row = SmsMessage(
        action_id=action_id,
        target_id=target_id,
        e164=e164,
        purpose=purpose,
        text=text,
        priority=priority,
        state="queued",
        smsc_ids=[],
    )
    session.add(row)
    session.flush()
    return row.id


def mobile(n: int) -> str:
    return f"+3161{n:07d}"


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not met in time")


def states(factory: sessionmaker[Session]) -> dict[int, str]:
    with transaction(factory) as session:
        return dict(session.execute(select(SmsMessage.id, SmsMessage.state)).all())


def dossier_kinds(factory: sessionmaker[Session], action_id: str) -> list[str]:
    with transaction(factory) as session:
        return list(
            session.scalars(
                select(DossierEntry.kind)
                .where(DossierEntry.action_id == action_id)
                .order_by(DossierEntry.seq)
            )
        )


def dossier_sms(factory: sessionmaker[Session], action_id: str, kind: str) -> list[int]:
    """SMS ids listed in the action's dossier entries of ``kind`` (entries cover a batch)."""
    with transaction(factory) as session:
        entries = session.scalars(
            select(DossierEntry).where(
                DossierEntry.action_id == action_id, DossierEntry.kind == kind
            )
        ).all()
        return [item["sms_id"] for e in entries for item in e.data.get("sms", [e.data])]


@contextmanager
def running(service: Any) -> Iterator[threading.Event]:
    """Run an SmsService loop in a thread for the duration of the block."""
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(15)
