"""The SMS service against an SMPP server we did not write: the smpp34 package's server side."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.smpp.service import SmsService
from engine.store.db import transaction
from tests.smpp_support import (
    app_settings,
    dossier_kinds,
    mobile,
    running,
    seed_action,
    seed_sms,
    smsc_settings,
    states,
    wait_for,
)

smpp34 = pytest.importorskip("smpp34")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
Factory = sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Smpp34Smsc:
    """smpp34.Server accepting every submit (after ``throttle_first`` ESME_RTHROTTLED answers),
    sending a delivery receipt for each and MO messages on request."""

    def __init__(self, throttle_first: int = 0):
        self.port = _free_port()
        self.throttle_first = throttle_first
        self.accepted: Counter[str] = Counter()
        self.payloads: list[tuple[bytes, int, int]] = []
        self.sessions: dict[str, Any] = {}
        self.receipt_errors: list[str] = []
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._seen = 0

    def __enter__(self) -> Smpp34Smsc:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    async def _stop(self) -> None:
        # smpp34 builds its futures at call time: call it inside the running loop.
        await self.server.stop()

    def _run(self) -> None:
        self.loop.create_task(self._serve())
        self.loop.run_forever()

    async def _serve(self) -> None:
        self.server = smpp34.Server(host="127.0.0.1", port=self.port, system_id="smpp34")
        await self.server.start()
        self._ready.set()
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self.sessions[event.session_id] = event
            elif isinstance(event, smpp34.SubmitSmEvent):
                await self._on_submit(event)

    async def _on_submit(self, event: Any) -> None:
        self._seen += 1
        if self._seen <= self.throttle_first:
            event.reject(smpp34.ESME_RTHROTTLED)
            return
        message_id = f"{self._seen:08X}"
        self.accepted[event.destination_addr] += 1
        self.payloads.append((event.short_message, event.esm_class, event.data_coding))
        event.accept(message_id)
        receipt = (
            f"id:{int(message_id, 16)} sub:001 dlvrd:001 submit date:2611241200 "
            "done date:2611241201 stat:DELIVRD err:000 text:"
        ).encode()
        esme = self.sessions[event.session_id]
        try:
            await esme.deliver_sm(
                source_addr=event.destination_addr,
                destination_addr=event.source_addr,
                esm_class=0x04,
                short_message=receipt,
            )
        except smpp34.SmppError as exc:  # a late deliver_sm_resp must not stop this server
            self.receipt_errors.append(str(exc))

    def send_mo(self, source: str, text: str) -> None:
        esme = next(iter(self.sessions.values()))

        async def deliver() -> None:
            await esme.deliver_sm(
                source_addr=source, destination_addr="Burgernet", short_message=text.encode()
            )

        asyncio.run_coroutine_threadsafe(deliver(), self.loop).result(10)


def _seed(factory: Factory, texts: list[str]) -> list[int]:
    with transaction(factory) as session:
        seed_action(session)
        return [seed_sms(session, "act1", mobile(i), text) for i, text in enumerate(texts)]


def test_submits_and_decimal_receipts_for_hex_ids_are_recorded(session_factory: Factory) -> None:
    texts = ["Korte melding", "a" * 200 + " €", "Let op 🚨 verdachte in rode jas"]
    ids = _seed(session_factory, texts)
    with Smpp34Smsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: all(states(session_factory)[i] == "delivered" for i in ids))
        assert sorted(smsc.accepted.values()) == [1, 1, 2]  # the long text is two parts
        codings = {(esm, coding) for _, esm, coding in smsc.payloads}
        assert codings == {(0, 0), (0x40, 0), (0, 8)}


def test_throttled_answers_are_resent_not_lost(session_factory: Factory) -> None:
    ids = _seed(session_factory, ["melding"] * 5)
    with Smpp34Smsc(throttle_first=3) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: all(states(session_factory)[i] == "delivered" for i in ids))
        assert sorted(smsc.accepted.values()) == [1] * 5


def test_mo_tip_reaches_the_dossier(session_factory: Factory) -> None:
    ids = _seed(session_factory, ["melding"])
    with Smpp34Smsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: states(session_factory)[ids[0]] == "delivered")
            smsc.send_mo(mobile(0).lstrip("+"), "Zag hem net bij de Jumbo")
            wait_for(lambda: "tip" in dossier_kinds(session_factory, "act1"))
