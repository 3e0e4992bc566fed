"""The fan-out contract: what the dialer and SMS service find after create/expand/update/close."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.actions.fanout import effective_channel
from engine.actions.models import ActionTarget, CallAttempt, EmailMessage, SmsMessage
from tests import actions_support
from tests.actions_support import (
    DEVENTER_PC4,
    FakeQueue,
    FakeRedis,
    add_participant,
    client,
    counts,
    new_action,
    token,
)

# Fixtures live in the support module (conftest.py belongs to the lead).
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings
api_template = actions_support.api_template
api_url = actions_support.api_url
deventer = actions_support.deventer


@pytest.mark.parametrize(
    ("action", "pref", "kind", "expected"),
    [
        ("both", "both", "mobile", "both"),
        ("both", "sms", "mobile", "sms"),
        ("both", "voice", "mobile", "voice"),
        ("both", "sms", "landline", "voice"),
        ("sms", "both", "landline", None),
        ("sms", "voice", "mobile", None),
        ("voice", "sms", "mobile", None),
        ("voice", "both", "mobile", "voice"),
    ],
)
def test_effective_channel(action: str, pref: str, kind: str, expected: str | None) -> None:
    assert effective_channel(action, pref, kind) == expected


def test_create_writes_targets_calls_and_sms_nearest_first(api_settings, api_factory, deventer):
    redis, queue = FakeRedis(), FakeQueue()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, redis, queue) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
    with api_factory() as s:
        targets = s.scalars(select(ActionTarget).where(ActionTarget.action_id == aid)
                            .order_by(ActionTarget.rank)).all()
        calls = s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)).all()
        texts = s.scalars(select(SmsMessage).where(SmsMessage.action_id == aid)).all()
    assert targets and [t.rank for t in targets] == list(range(1, len(targets) + 1))
    distances = [t.distance_m for t in targets]
    assert distances == sorted(distances)
    kinds = {t.e164: t.phone_kind for t in targets}
    assert all(kinds[m.e164] == "mobile" for m in texts), "an SMS went to a landline"
    assert {c.state for c in calls} == {"queued"} and {m.state for m in texts} == {"queued"}
    assert all(len(c.id) == 32 and c.priority == 70 and c.purpose == "alert" for c in calls)
    assert len({c.e164 for c in calls}) == len(calls)
    # wakes after the commit, and the voice script goes to TTS
    assert ("bnet:dialer:wake", aid) in redis.published
    assert ("bnet:sms:wake", aid) in redis.published
    assert f"bnet:progress:{aid}" in redis.channels()
    assert ("rq_workers.actions.render_action_audio", (aid,)) in queue.jobs


def test_expand_adds_only_new_numbers_in_a_new_wave(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        body = new_action(area={"radius_m": 1500})
        aid = c.post("/v1/actions", json=body, headers=h).json()["id"]
        first = counts(api_factory, aid)
        r = c.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": 10_000}}, headers=h)
        again = c.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": 10_000}},
                       headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["wave"] == 1 and r.json()["result"]["targets"] > 0
    assert again.json()["result"]["targets"] == 0
    with api_factory() as s:
        numbers = s.scalars(select(ActionTarget.e164).where(ActionTarget.action_id == aid)).all()
        waves = set(s.scalars(select(ActionTarget.wave).where(ActionTarget.action_id == aid)))
    assert len(numbers) == len(set(numbers)) > first["targets"]
    assert waves == {0, 1}
    # Voorst lies in gelderland-noord: allowed, and written down.
    assert r.json()["result"]["outside_own_region"] is True
    assert "gelderland-noord" in r.json()["result"]["regions"]


def test_test_actions_reach_only_testers(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(kind="test"), headers=h)
    with api_factory() as s:
        numbers = s.scalars(select(ActionTarget.e164).where(
            ActionTarget.action_id == r.json()["id"])).all()
    assert numbers == ["+31600000900"]


def test_nothing_is_half_written_when_the_fan_out_fails(api_settings, api_factory, deventer,
                                                       monkeypatch):
    import engine.actions.service as service

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "write_wave", boom)
    redis = FakeRedis()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, redis) as c:
        r = c.post("/v1/actions", json=new_action(), headers=h)
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert counts(api_factory) == {"actions": 0, "targets": 0, "calls": 0, "sms": 0, "dossier": 0}
    assert redis.published == []


def _reach_everyone(factory, aid: str) -> None:
    """Stand-in for the dialer and SMS service: every alert call answered, every SMS delivered."""
    with factory() as s, s.begin():
        for call in s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)):
            call.state, call.answered_at, call.ended_at = "completed", call.due_at, call.due_at
        for sms in s.scalars(select(SmsMessage).where(SmsMessage.action_id == aid)):
            sms.state = "delivered"


def test_update_and_close_reach_the_reached_on_their_channel(api_settings, api_factory,
                                                            deventer):
    with api_factory() as s, s.begin():
        add_participant(s, 777, DEVENTER_PC4[0], email="p777@example.org")
    redis, queue = FakeRedis(), FakeQueue()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, redis, queue) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        _reach_everyone(api_factory, aid)
        up = c.post(f"/v1/actions/{aid}/update", json={"text": "Hij draagt nu een blauwe pet"},
                    headers=h)
        up2 = c.post(f"/v1/actions/{aid}/update", json={"text": "Laatst gezien bij het station"},
                     headers=h)
        closed = c.post(f"/v1/actions/{aid}/close",
                        json={"outcome": "De verdachte is aangehouden", "story": "Dankzij u."},
                        headers=h)
    assert up.status_code == up2.status_code == closed.status_code == 200, closed.text
    assert up.json()["result"]["purpose"] == "update"
    assert up2.json()["result"]["purpose"] == "update2"
    with api_factory() as s:
        calls = s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)).all()
        texts = s.scalars(select(SmsMessage).where(SmsMessage.action_id == aid)).all()
        mails = s.scalars(select(EmailMessage).where(EmailMessage.action_id == aid)).all()
    by_purpose: dict[str, set[str]] = {}
    for row in [*calls, *texts]:
        by_purpose.setdefault(row.purpose, set()).add(f"{type(row).__name__}:{row.e164}")
    voice_reached = {f"CallAttempt:{c.e164}" for c in calls if c.purpose == "alert"}
    # Someone reached by call and by SMS hears the outcome by call (reached_by prefers voice).
    assert {x for x in by_purpose["outcome"] if x.startswith("CallAttempt")} == voice_reached
    assert by_purpose["update"] == by_purpose["update2"] == by_purpose["outcome"]
    outcome_sms = [m for m in texts if m.purpose == "outcome"]
    assert outcome_sms and all("is beëindigd. De verdachte is aangehouden." in m.text
                               for m in outcome_sms)
    assert [m.address for m in mails] == ["p777@example.org"]
    assert ("rq_workers.mail.send_email", (mails[0].id,)) in queue.jobs


def test_cancel_withdraws_queued_work_and_tells_the_dialer(api_settings, api_factory, deventer):
    redis = FakeRedis()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, redis) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        with api_factory() as s, s.begin():  # one call already ringing
            ringing = s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)).first()
            assert ringing is not None
            ringing.state = "ringing"
        r = c.post(f"/v1/actions/{aid}/cancel", json={"hangup_answered": True}, headers=h)
        again = c.post(f"/v1/actions/{aid}/cancel", headers=h)
    assert r.status_code == 200, r.text
    assert again.status_code == 409 and again.json()["code"] == "cannot_cancel_cancelled"
    with api_factory() as s:
        states = {c.id: c.state for c in s.scalars(
            select(CallAttempt).where(CallAttempt.action_id == aid))}
        sms_states = set(s.scalars(select(SmsMessage.state).where(SmsMessage.action_id == aid)))
    assert states.pop(ringing.id) == "ringing"  # the dialer hangs it up
    assert set(states.values()) == {"cancelled"} and sms_states == {"cancelled"}
    message = dict(redis.published)["bnet:dialer:cancel"]
    assert json.loads(message) == {"action_id": aid, "hangup_answered": True,
                                   "reason": "cancelled"}


def test_large_fan_out_writes_the_nearest_first_then_the_rest(api_settings, api_factory,
                                                             deventer, monkeypatch):
    import engine.actions.deferred as deferred
    import engine.actions.service as service

    monkeypatch.setattr(service, "FIRST_RADIUS_M", 500.0)
    monkeypatch.setattr(deferred, "REST_CHUNK", 2)  # the rest in many small transactions
    redis = FakeRedis()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, redis) as c:
        created = c.post("/v1/actions", json=new_action(), headers=h).json()
        kinds = [e["kind"] for e in c.get(f"/v1/actions/{created['id']}/dossier",
                                          headers=h).json()["entries"]]
    aid = created["id"]
    with api_factory() as s:
        targets = s.execute(select(ActionTarget.rank, ActionTarget.distance_m, ActionTarget.wave)
                            .where(ActionTarget.action_id == aid)
                            .order_by(ActionTarget.rank)).all()
        calls = s.scalars(select(CallAttempt.e164).where(CallAttempt.action_id == aid)).all()
    assert [t.rank for t in targets] == list(range(1, created["wave"]["targets"] + 1))
    assert [t.distance_m for t in targets] == sorted(t.distance_m for t in targets)
    assert {t.wave for t in targets} == {0}
    assert len(calls) == len(set(calls)) == created["wave"]["calls"]
    assert kinds == ["created", "selection", "selection"]
    # woken for the nearest people at once, and again for the rest of the area
    assert redis.published.count(("bnet:dialer:wake", aid)) == 2


def test_a_failed_second_step_is_left_to_the_rq_job(api_settings, api_factory, deventer,
                                                   monkeypatch):
    from sqlalchemy.exc import OperationalError

    import engine.actions.deferred as deferred
    import engine.actions.service as service
    from rq_workers.actions import run_complete_fanout

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(service, "FIRST_RADIUS_M", 500.0)
    monkeypatch.setattr(deferred, "complete_area", locked)
    queue = FakeQueue()
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory, queue=queue) as c:
        created = c.post("/v1/actions", json=new_action(), headers=h)
    aid = created.json()["id"]
    nearest = created.json()["wave"]["targets"]
    assert created.status_code == 201 and nearest > 0
    assert counts(api_factory, aid)["targets"] == nearest
    assert ("rq_workers.actions.complete_fanout", (aid,)) in queue.jobs
    monkeypatch.undo()  # the store is fine again when the job runs
    added = run_complete_fanout(aid, api_settings)
    assert added > 0
    with api_factory() as s:
        numbers = s.scalars(select(ActionTarget.e164).where(ActionTarget.action_id == aid)).all()
    assert len(numbers) == len(set(numbers)) == nearest + added


def test_a_large_expansion_is_split_the_same_way(api_settings, api_factory, deventer,
                                                 monkeypatch):
    import engine.actions.service as service

    monkeypatch.setattr(service, "FIRST_TARGETS", 2)
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(area={"radius_m": 300}),
                     headers=h).json()["id"]
        before = counts(api_factory, aid)["targets"]
        r = c.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": 10_000}}, headers=h)
        entries = c.get(f"/v1/actions/{aid}/dossier", headers=h).json()["entries"]
    with api_factory() as s:
        rows = s.execute(select(ActionTarget.wave, ActionTarget.rank, ActionTarget.distance_m)
                         .where(ActionTarget.action_id == aid, ActionTarget.wave == 1)
                         .order_by(ActionTarget.rank)).all()
    assert r.status_code == 200 and r.json()["result"]["targets"] == len(rows) > 2
    assert counts(api_factory, aid)["targets"] == before + len(rows)
    assert [x.distance_m for x in rows] == sorted(x.distance_m for x in rows)
    parts = [e["data"].get("part") for e in entries if e["kind"] == "selection"]
    assert parts[-2:] == ["nearest", "rest"]
