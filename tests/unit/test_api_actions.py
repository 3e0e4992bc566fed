"""The /v1/actions hook: idempotent create, list filters, lifecycle over HTTP, dossier export."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from engine.actions.models import Action, DossierEntry
from tests import actions_support
from tests.actions_support import (
    client,
    counts,
    new_action,
    problem,
    token,
)

# Fixtures live in the support module (conftest.py belongs to the lead).
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings
api_template = actions_support.api_template
api_url = actions_support.api_url
deventer = actions_support.deventer


def test_same_key_same_body_gives_the_same_action(api_settings, api_factory, deventer):
    h = {**token(api_factory, "centralist", "ijsselland"), "Idempotency-Key": "inc-2026-0042"}
    with client(api_settings, api_factory) as c:
        first = c.post("/v1/actions", json=new_action(), headers=h)
        second = c.post("/v1/actions", json=new_action(), headers=h)
        other = c.post("/v1/actions", json=new_action(channels="voice"), headers=h)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert (other.status_code, problem(other)["code"]) == (409, "idempotency_key_reused")
    assert counts(api_factory)["actions"] == 1


def test_without_a_key_each_post_is_a_new_action(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        ids = {c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
               for _ in range(2)}
    assert len(ids) == 2


def test_list_filters_by_state_region_and_date(api_settings, api_factory, deventer):
    h = token(api_factory, "admin", "*")
    with client(api_settings, api_factory) as c:
        a = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        b = c.post("/v1/actions", json=new_action(draft=True), headers=h).json()["id"]
        c.post("/v1/actions", json=new_action(location={"postcode": "7392"}), headers=h)
        running = c.get("/v1/actions?state=running&region=ijsselland", headers=h).json()
        drafts = c.get("/v1/actions?state=draft", headers=h).json()
        voorst = c.get("/v1/actions?region=gelderland-noord", headers=h).json()
        old = c.get("/v1/actions?to=2020-01-01", headers=h).json()
        today = c.get("/v1/actions?from=2020-01-01", headers=h).json()
        bad = c.get("/v1/actions?state=exploded", headers=h)
    assert [x["id"] for x in running["items"]] == [a]
    assert [x["id"] for x in drafts["items"]] == [b]
    assert voorst["total"] == 1 and voorst["items"][0]["place"] in ("Twello", "Voorst")
    assert old["total"] == 0 and today["total"] == 3
    assert (bad.status_code, problem(bad)["code"]) == (422, "validation_error")


def test_draft_then_start(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        draft = c.post("/v1/actions", json=new_action(draft=True), headers=h).json()
        before = counts(api_factory, draft["id"])
        closing = c.post(f"/v1/actions/{draft['id']}/close", json={"outcome": "klaar"},
                         headers=h)
        started = c.post(f"/v1/actions/{draft['id']}/start", headers=h)
        kinds = [e["kind"] for e in c.get(f"/v1/actions/{draft['id']}/dossier",
                                          headers=h).json()["entries"]]
    assert draft["state"] == "draft" and draft["allowed_operations"] == ["cancel", "expand",
                                                                        "start"]
    assert before["targets"] == 0
    assert (closing.status_code, problem(closing)["code"]) == (409, "cannot_close_draft")
    assert started.json()["action"]["state"] == "running"
    assert started.json()["result"]["targets"] > 0
    assert kinds[:2] == ["created", "started"] and "selection" in kinds


def test_estimate_before_and_after_create(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        dry = c.post("/v1/actions/estimate", json=new_action(), headers=h).json()
        assert counts(api_factory)["actions"] == 0
        created = c.post("/v1/actions", json=new_action(), headers=h).json()
        more = c.post(f"/v1/actions/{created['id']}/estimate",
                      json={"area": {"radius_m": 10_000}}, headers=h).json()
    wave = created["wave"]
    assert (dry["selected"], dry["calls"], dry["sms"]) == (wave["targets"], wave["calls"],
                                                           wave["sms"])
    assert dry["sms_encoding"] == "gsm7" and dry["sms_segments"] == 1 and dry["sms_fits"]
    # N·H/L with the default trunk (30 lines) and 50 s per call.
    assert dry["lines"] == 30
    assert dry["seconds_to_reach_all"] == pytest.approx(50 * dry["calls"] / 30, abs=0.1)
    assert dry["cost_eur"] > 0
    assert more["already_selected"] == wave["targets"] and more["selected"] > 0


def test_ucs2_sms_over_budget_is_refused_with_advice(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    long_text = "Vermist: Zoë, 8 jaar, " + "blauwe jas met capuchon en rode laarzen, " * 6
    with client(api_settings, api_factory) as c:
        dry = c.post("/v1/actions/estimate", json=new_action(signalement=long_text),
                     headers=h).json()
        r = c.post("/v1/actions", json=new_action(signalement=long_text), headers=h)
        ok = c.post("/v1/actions", json=new_action(signalement=long_text,
                                                   sms_signalement="Vermist: Zoe, 8 jaar"),
                    headers=h)
    assert dry["sms_encoding"] == "ucs2" and not dry["sms_fits"] and dry["sms_warnings"]
    assert (r.status_code, problem(r)["code"]) == (422, "sms_too_long")
    assert ok.status_code == 201 and "Zoe, 8 jaar" in ok.json()["sms_text"]


def test_dossier_json_csv_and_tamper_detection(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    auditor = token(api_factory, "auditor", "ijsselland")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        c.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": 4000}}, headers=h)
        c.post(f"/v1/actions/{aid}/cancel", json={"reason": "vals alarm"}, headers=h)
        doc = c.get(f"/v1/actions/{aid}/dossier", headers=auditor).json()
        text = c.get(f"/v1/actions/{aid}/dossier?format=csv", headers=auditor)
        with api_factory() as s, s.begin():
            entry = s.scalar(select(DossierEntry).where(DossierEntry.action_id == aid,
                                                        DossierEntry.kind == "cancelled"))
            assert entry is not None
            entry.data = {**entry.data, "reason": "gewoon gestopt"}
        broken = c.get(f"/v1/actions/{aid}/dossier", headers=auditor).json()
    kinds = [e["kind"] for e in doc["entries"]]
    # 2 km is fanned out in two steps: everyone within 500 m first, then the rest.
    assert kinds == ["created", "selection", "selection", "selection", "expanded", "cancelled"]
    assert doc["verified"] is True
    assert doc["entries"][0]["actor"] == "centralist:centralist-ijsselland"
    nearest, rest = doc["entries"][1]["data"], doc["entries"][2]["data"]
    assert (nearest["part"], nearest["area"]["radius_m"]) == ("nearest", 500)
    assert (rest["part"], rest["area"]["radius_m"]) == ("rest", 2000)
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert [r["kind"] for r in rows] == kinds
    assert broken["verified"] is False and broken["first_bad_seq"] == 6


def test_problem_json_for_404_405_and_validation(api_settings, api_factory):
    h = token(api_factory, "centralist", "*")
    with client(api_settings, api_factory) as c:
        missing = c.get("/v1/actions/doesnotexist", headers=h)
        nowhere = c.get("/v1/nothing-here", headers=h)
        method = c.delete("/v1/actions", headers=h)
        invalid = c.post("/v1/actions", json={"kind": "party"}, headers=h)
        not_json = c.post("/v1/actions", content=b"{", headers={**h,
                                                              "Content-Type": "application/json"})
    assert (missing.status_code, problem(missing)["code"]) == (404, "action_not_found")
    assert (nowhere.status_code, problem(nowhere)["code"]) == (404, "not_found")
    assert (method.status_code, problem(method)["code"]) == (405, "method_not_allowed")
    body = problem(invalid)
    assert (invalid.status_code, body["code"]) == (422, "validation_error")
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "kind"),
                                                         ("body", "signalement")}
    assert (not_json.status_code, problem(not_json)["code"]) == (422, "validation_error")


def test_openapi_is_published(api_settings, api_factory):
    with client(api_settings, api_factory) as c:
        spec = c.get("/openapi.json").json()
    for path in ("/v1/actions", "/v1/actions/{action_id}", "/v1/actions/{action_id}/estimate",
                 "/v1/actions/{action_id}/expand", "/v1/actions/{action_id}/update",
                 "/v1/actions/{action_id}/cancel", "/v1/actions/{action_id}/close",
                 "/v1/actions/{action_id}/dossier", "/v1/actions/{action_id}/events"):
        assert path in spec["paths"], path


def test_action_row_keeps_composed_texts(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(callback_number="0570 123456"),
                     headers=h).json()["id"]
    with api_factory() as s:
        action = s.get(Action, aid)
        assert action is not None
        assert action.voice_script.startswith("Dit is een oproep voor Burgernet.")
        assert "Bel 0570 123456" in action.sms_text
        assert action.region == "ijsselland" and action.place == "Deventer"
