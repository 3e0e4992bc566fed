"""Relatiebeheer self-service: nothing takes effect before the participant confirms."""

from __future__ import annotations

from sqlalchemy import select

from engine.participants.models import Participant
from tests import actions_support
from tests.actions_support import client, problem, token

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings

PERSON = {"name": "Jan Jansen", "email": "jan@example.org", "phones": ["06 12345678"],
          "channel_pref": "sms", "addresses": [{"postcode": "7411 AB", "house_number": "12"}]}


def _status(factory, pid: int) -> str:
    with factory() as s:
        return str(s.scalar(select(Participant.status).where(Participant.id == pid)))


def test_register_is_pending_until_confirmed(api_settings, api_factory):
    h = token(api_factory, "relatiebeheer")
    with client(api_settings, api_factory) as c:
        pending = c.post("/v1/participants", json=PERSON, headers=h)
        pid = pending.json()["participant_id"]
        status_before = _status(api_factory, pid)
        done = c.post("/v1/participants/confirm",
                      json={"token": pending.json()["confirmation_token"]}, headers=h)
        replay = c.post("/v1/participants/confirm",
                        json={"token": pending.json()["confirmation_token"]}, headers=h)
        unknown = c.post("/v1/participants/confirm", json={"token": "x" * 32}, headers=h)
    assert pending.status_code == 202 and status_before == "pending"
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "active"
    assert done.json()["phones"] == [{"e164": "+31612345678", "kind": "mobile"}]
    assert (replay.status_code, problem(replay)["code"]) == (410, "confirmation_invalid")
    assert (unknown.status_code, problem(unknown)["code"]) == (404, "confirmation_unknown")


def test_modify_and_unsubscribe_need_confirmation(api_settings, api_factory):
    h = token(api_factory, "relatiebeheer")
    with client(api_settings, api_factory) as c:
        reg = c.post("/v1/participants", json=PERSON, headers=h).json()
        pid = reg["participant_id"]
        c.post("/v1/participants/confirm", json={"token": reg["confirmation_token"]}, headers=h)
        change = c.patch(f"/v1/participants/{pid}", json={"channel_pref": "voice"}, headers=h)
        unchanged = c.get(f"/v1/participants/{pid}", headers=h).json()["channel_pref"]
        changed = c.post("/v1/participants/confirm",
                         json={"token": change.json()["confirmation_token"]}, headers=h)
        stop = c.post(f"/v1/participants/{pid}/unsubscribe", headers=h)
        still = _status(api_factory, pid)
        stopped = c.post("/v1/participants/confirm",
                         json={"token": stop.json()["confirmation_token"]}, headers=h)
    assert unchanged == "sms" and changed.json()["channel_pref"] == "voice"
    assert still == "active" and stopped.json()["status"] == "unsubscribed"


def test_only_relatiebeheer_and_clear_errors(api_settings, api_factory):
    h = token(api_factory, "relatiebeheer")
    with client(api_settings, api_factory) as c:
        as_centralist = c.post("/v1/participants", json=PERSON,
                               headers=token(api_factory, "centralist"))
        bad_phone = c.post("/v1/participants", json={**PERSON, "phones": ["12"]}, headers=h)
        missing = c.get("/v1/participants/424242", headers=h)
    assert (as_centralist.status_code, problem(as_centralist)["code"]) == (403, "forbidden_role")
    assert bad_phone.status_code == 422
    assert missing.status_code == 404
