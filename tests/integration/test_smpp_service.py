"""The SMS service against the fault-injecting simulator, on a real migrated SQLite store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import ActionTarget, DossierEntry, SmsMessage
from engine.participants.models import Participant
from engine.sim.smsc import SmscFaults
from engine.smpp.service import SmsService
from engine.store.db import transaction
from tests.smpp_support import (
    BackgroundSmsc,
    app_settings,
    dossier_kinds,
    dossier_sms,
    mobile,
    running,
    seed_action,
    seed_sms,
    smsc_settings,
    states,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
Factory = sessionmaker[Session]


def _seed(factory: Factory, n: int, action_id: str = "act1") -> list[int]:
    with transaction(factory) as session:
        seed_action(session, action_id)
        return [seed_sms(session, action_id, mobile(i)) for i in range(n)]


def _final(factory: Factory, ids: list[int], allowed: tuple[str, ...]) -> bool:
    current = states(factory)
    return all(current[i] in allowed for i in ids)


def test_queued_sms_are_sent_once_and_delivery_recorded(session_factory: Factory) -> None:
    ids = _seed(session_factory, 25)
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))
        assert all(count == 1 for count in smsc.sim.accepted.values())
        assert len(smsc.sim.accepted) == 25
    with transaction(session_factory) as session:
        reached = session.scalars(select(ActionTarget.reached_by)).all()
        row = session.get(SmsMessage, ids[0])
        assert row is not None and row.dlr_status == "DELIVRD" and row.smsc_ids
    assert reached == ["sms"] * 25
    assert sorted(dossier_sms(session_factory, "act1", "sms_submitted")) == ids
    assert sorted(dossier_sms(session_factory, "act1", "sms_dlr")) == ids


def test_throttling_and_queue_full_back_off_without_loss_or_duplicates(
    session_factory: Factory,
) -> None:
    ids = _seed(session_factory, 60)
    faults = SmscFaults(tps_limit=100, queue_full_every=7)
    with BackgroundSmsc(faults) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)), timeout=30)
        assert smsc.sim.queue_full > 0  # (the tps limit may not trigger once the rate is learned)
        assert sorted(smsc.sim.accepted.values()) == [1] * 60


def test_connection_dropped_mid_window_is_uncertain_not_resent(session_factory: Factory) -> None:
    ids = _seed(session_factory, 30)
    faults = SmscFaults(drop_connection_at=8, resp_delay_s=0.01)
    with BackgroundSmsc(faults) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "uncertain")), timeout=30)
        assert all(count == 1 for count in smsc.sim.accepted.values())
    final = states(session_factory)
    assert "uncertain" in {final[i] for i in ids}
    assert "sms_uncertain" in dossier_kinds(session_factory, "act1")


def test_receipt_before_resp_with_hex_and_decimal_ids_is_matched(session_factory: Factory) -> None:
    ids = _seed(session_factory, 12)
    faults = SmscFaults(dlr_before_resp=True, id_format="hex_dec", shuffle_dlrs=False)
    with BackgroundSmsc(faults) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))


def test_undelivered_report_fails_the_message(session_factory: Factory) -> None:
    ids = _seed(session_factory, 4)
    faults = SmscFaults(stat_by_suffix={"0000001": "UNDELIV"}, shuffle_dlrs=True)
    with BackgroundSmsc(faults) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "failed")))
    final = states(session_factory)
    assert [final[i] for i in ids] == ["delivered", "failed", "delivered", "delivered"]


def test_garbage_from_smsc_neither_crashes_nor_duplicates(session_factory: Factory) -> None:
    ids = _seed(session_factory, 20)
    with BackgroundSmsc(SmscFaults(garbage_at=5)) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "uncertain")), timeout=30)
        assert all(count == 1 for count in smsc.sim.accepted.values())


def test_refused_bind_is_retried_until_accepted(session_factory: Factory) -> None:
    ids = _seed(session_factory, 3)
    with BackgroundSmsc(SmscFaults(refuse_bind=True)) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: any(s.state == "refused" for s in service.bind_states.values()))
            smsc.sim.faults.refuse_bind = False
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))


def test_permanent_refusal_fails_with_status(session_factory: Factory) -> None:
    ids = _seed(session_factory, 3)
    with BackgroundSmsc(SmscFaults(reject_by_suffix={"0000002": 0x0B})) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "failed")))
    with transaction(session_factory) as session:
        row = session.get(SmsMessage, ids[2])
        assert row is not None and row.state == "failed"
        assert row.error is not None and "0x0B" in row.error


def test_landline_and_over_budget_text_fail_with_clear_error(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        seed_action(session)
        landline = seed_sms(session, "act1", "+31201234567")
        long_text = seed_sms(session, "act1", mobile(1), "x" * 2000)
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, [landline, long_text], ("failed",)))
        assert smsc.sim.submits == 0
    with transaction(session_factory) as session:
        errors = {r.id: r.error for r in session.scalars(select(SmsMessage))}
    assert "mobile" in (errors[landline] or "")
    assert "14 segments" in (errors[long_text] or "")


def test_cancelled_rows_are_never_sent(session_factory: Factory) -> None:
    ids = _seed(session_factory, 5)
    with transaction(session_factory) as session:
        for row in session.scalars(select(SmsMessage).where(SmsMessage.id.in_(ids[:3]))):
            row.state = "cancelled"
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids[3:], ("delivered",)))
        assert len(smsc.sim.accepted) == 2
    assert [states(session_factory)[i] for i in ids[:3]] == ["cancelled"] * 3


def test_failover_to_the_next_smsc_when_the_first_is_down(session_factory: Factory) -> None:
    ids = _seed(session_factory, 6)
    with BackgroundSmsc() as smsc:
        dead = smsc_settings(1, name="dead", priority=1)
        alive = smsc_settings(smsc.port, name="alive", priority=50)
        service = SmsService(app_settings(dead, alive), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)), timeout=30)
    with transaction(session_factory) as session:
        assert set(session.scalars(select(SmsMessage.smsc))) == {"alive"}


def test_stop_from_participant_unsubscribes_and_confirms(session_factory: Factory) -> None:
    ids = _seed(session_factory, 1)
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))
            smsc.send_mo(mobile(0).lstrip("+"), "Stop Burgernet")
            wait_for(lambda: "delivered" in _confirm_states(session_factory))
            tip = "Ik zag hem bij het station, richting centrum. Rode jas, fiets, snel weg."
            smsc.call(smsc.sim.send_mo(mobile(0).lstrip("+"), tip, parts=3))
            wait_for(lambda: "tip" in dossier_kinds(session_factory, "act1"))
    with transaction(session_factory) as session:
        person = session.scalars(select(Participant)).one()
        assert person.status == "unsubscribed" and person.unsubscribed_at is not None
        confirm = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "confirm")).one()
        assert "afgemeld" in confirm.text
    assert "unsubscribed" in dossier_kinds(session_factory, "act1")
    with transaction(session_factory) as session:
        tips = session.scalars(select(DossierEntry).where(DossierEntry.kind == "tip")).all()
    assert [t.data["text"] for t in tips] == [tip]  # three parts, one tip


def _confirm_states(factory: Factory) -> list[str]:
    with transaction(factory) as session:
        return list(
            session.scalars(select(SmsMessage.state).where(SmsMessage.purpose == "confirm"))
        )


def test_restart_marks_in_flight_uncertain_and_resends_only_by_rule(
    session_factory: Factory,
) -> None:
    ids = _seed(session_factory, 2)
    with transaction(session_factory) as session:
        for row in session.scalars(select(SmsMessage)):
            row.state, row.claimed_by = "submitting", "test:dead0001"
    with BackgroundSmsc() as smsc:
        never = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(never):
            wait_for(lambda: _final(session_factory, ids, ("uncertain",)))
        assert smsc.sim.submits == 0
        settings = app_settings(
            smsc_settings(smsc.port), resend_uncertain="after_expiry", uncertain_expiry_s=0.01
        )
        with running(SmsService(settings, session_factory)):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))
    assert sorted(dossier_sms(session_factory, "act1", "sms_uncertain")) == ids
    assert sorted(dossier_sms(session_factory, "act1", "sms_resend")) == ids


def test_admin_changes_apply_to_a_running_sender(session_factory: Factory) -> None:
    from engine.smpp import tuning

    ids = _seed(session_factory, 3)
    with BackgroundSmsc() as smsc:
        settings = app_settings(smsc_settings(smsc.port))
        service = SmsService(settings, session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)))
            with transaction(session_factory) as session:
                tuning.update(session, settings.smpp, "sim", {"max_tps": 5.0}, actor="test")
            wait_for(lambda: service.pool.links["sim"].settings.max_tps == 5.0)
            with transaction(session_factory) as session:
                tuning.update(session, settings.smpp, "sim", {"enabled": False}, actor="test")
            wait_for(lambda: service.bind_states["sim/0"].state == "disabled")
            more = _seed_more(session_factory, 2)
            with transaction(session_factory) as session:
                tuning.update(session, settings.smpp, "sim", {"enabled": True}, actor="test")
            wait_for(lambda: _final(session_factory, more, ("delivered",)))


def _seed_more(factory: Factory, n: int) -> list[int]:
    with transaction(factory) as session:
        return [seed_sms(session, "act1", mobile(100 + i)) for i in range(n)]


def test_smsc_closing_mid_pdu_leaves_no_duplicate_and_nothing_lost(
    session_factory: Factory,
) -> None:
    ids = _seed(session_factory, 15)
    with BackgroundSmsc(SmscFaults(truncate_at=4)) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "uncertain")), timeout=30)
        assert all(count == 1 for count in smsc.sim.accepted.values())
    assert "uncertain" in set(states(session_factory).values())


def test_silent_smsc_times_out_submits_and_idle_bind_sends_enquire_link(
    session_factory: Factory,
) -> None:
    ids = _seed(session_factory, 3)
    with BackgroundSmsc(SmscFaults(no_response_after=1)) as smsc:
        cfg = smsc_settings(smsc.port, response_timeout_s=0.5, enquire_link_s=0.2)
        service = SmsService(app_settings(cfg), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "uncertain")), timeout=30)
            wait_for(lambda: smsc.sim.enquire_links > 0)
    final = [states(session_factory)[i] for i in ids]
    assert final[0] == "delivered" and set(final[1:]) == {"uncertain"}


def test_cancel_on_redis_withdraws_claimed_sms_within_a_second(
    session_factory: Factory, redis_client: Any
) -> None:
    ids = _seed(session_factory, 12)
    with BackgroundSmsc() as smsc:
        settings = app_settings(smsc_settings(smsc.port, max_tps=4.0, window=1))
        service = SmsService(settings, session_factory, redis_client)
        with running(service):
            wait_for(lambda: smsc.sim.submits >= 1)
            redis_client.publish("bnet:sms:cancel", json.dumps({"action_id": "act1"}))
            wait_for(lambda: "cancelled" in states(session_factory).values(), timeout=1.0)
            wait_for(lambda: _final(session_factory, ids, ("delivered", "cancelled")))
        sent = smsc.sim.submits
    final = states(session_factory)
    assert sent < 12 and sum(final[i] == "cancelled" for i in ids) == 12 - sent


def test_two_senders_on_one_store_send_every_sms_exactly_once(session_factory: Factory) -> None:
    ids = _seed(session_factory, 80)
    with BackgroundSmsc() as smsc:
        settings = app_settings(smsc_settings(smsc.port))
        first = SmsService(settings, session_factory, node="node-a")
        second = SmsService(settings, session_factory, node="node-b")
        with running(first), running(second):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)), timeout=30)
        assert sorted(smsc.sim.accepted.values()) == [1] * 80
    with transaction(session_factory) as session:
        owners = {c.split(":")[0] for c in session.scalars(select(SmsMessage.claimed_by)) if c}
    assert owners <= {"node-a", "node-b"}


def test_no_sms_after_the_participant_unsubscribed(session_factory: Factory) -> None:
    ids = _seed(session_factory, 3)
    with transaction(session_factory) as session:
        quitter = session.scalars(select(Participant)).first()
        assert quitter is not None
        quitter.status = "unsubscribed"
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered", "cancelled")))
        assert len(smsc.sim.accepted) == 2
    assert [states(session_factory)[i] for i in ids] == ["cancelled", "delivered", "delivered"]


def test_higher_priority_sms_go_first(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        seed_action(session)
        low = seed_sms(session, "act1", mobile(1), priority=10)
        high = seed_sms(session, "act1", mobile(2), priority=90)
        mid = seed_sms(session, "act1", mobile(3), priority=50)
    with BackgroundSmsc() as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port, window=1)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, [low, high, mid], ("delivered",)))
        order = [r.destination for r in smsc.sim.received]
    assert order == [mobile(2)[1:], mobile(3)[1:], mobile(1)[1:]]


def test_smsc_rate_limit_is_learned_from_throttled_answers(session_factory: Factory) -> None:
    ids = _seed(session_factory, 20)
    with BackgroundSmsc(SmscFaults(tps_limit=20)) as smsc:
        service = SmsService(app_settings(smsc_settings(smsc.port)), session_factory)
        with running(service):
            wait_for(lambda: _final(session_factory, ids, ("delivered",)), timeout=30)
        assert smsc.sim.throttled > 0
        assert sorted(smsc.sim.accepted.values()) == [1] * 20
        learned = service.pool.links["sim"].workers[0].learned_tps
    assert learned is not None and learned < 40


def test_two_senders_on_postgresql_send_every_sms_exactly_once(pg_url: str) -> None:
    from engine.store.db import make_engine, make_sessionmaker

    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    try:
        ids = _seed(factory, 40)
        with BackgroundSmsc() as smsc:
            settings = app_settings(smsc_settings(smsc.port))
            first = SmsService(settings, factory, node="pg-a")
            second = SmsService(settings, factory, node="pg-b")
            with running(first), running(second):
                wait_for(lambda: _final(factory, ids, ("delivered",)), timeout=30)
            assert sorted(smsc.sim.accepted.values()) == [1] * 40
        assert sorted(dossier_sms(factory, "act1", "sms_dlr")) == ids
    finally:
        engine.dispose()
