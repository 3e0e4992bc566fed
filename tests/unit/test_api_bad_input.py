"""Bad input to POST /v1/actions: a clear 4xx with a stable code, and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests import actions_support
from tests.actions_support import client, counts, new_action, problem, token

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings
deventer = actions_support.deventer

BOWTIE = [[[6.14, 52.24], [6.18, 52.27], [6.18, 52.24], [6.14, 52.27], [6.14, 52.24]]]
EMPTY = {"actions": 0, "targets": 0, "calls": 0, "sms": 0, "dossier": 0}

CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("lf in signalement", {"signalement": "rode jas\nAction: Originate"}, 422, "invalid_text"),
    ("cr in signalement", {"signalement": "rode jas\r\nChannel: x"}, 422, "invalid_text"),
    ("nul byte", {"signalement": "rode jas\x00 zwarte fiets"}, 422, "invalid_text"),
    ("10 kB signalement", {"signalement": "rode jas " * 1200}, 422, "text_too_long"),
    ("100 kB signalement", {"signalement": "x" * 100_000}, 422, "validation_error"),
    ("radius 0", {"area": {"radius_m": 0}}, 422, "invalid_radius"),
    ("radius 500 km", {"area": {"radius_m": 500_000}}, 422, "invalid_radius"),
    ("self-intersecting polygon", {"area": {"polygon": BOWTIE}}, 422,
     "self_intersecting_polygon"),
    ("radius and polygon", {"area": {"radius_m": 1000, "polygon": BOWTIE}}, 422,
     "validation_error"),
    ("location in Paris", {"location": {"lat": 48.8566, "lon": 2.3522}}, 422, "outside_nl"),
    ("location in the North Sea", {"location": {"lat": 53.9, "lon": 3.0}}, 422, "outside_nl"),
    ("unknown postcode", {"location": {"postcode": "1000"}}, 422, "unknown_postcode"),
    ("malformed postcode", {"location": {"postcode": "ABCD"}}, 422, "validation_error"),
    ("no location", {"location": {}}, 422, "validation_error"),
    ("bad callback number", {"callback_number": "112"}, 422, "invalid_callback_number"),
    ("callback with header", {"callback_number": "0800\r\nX: 1"}, 422,
     "invalid_callback_number"),
    ("unknown kind", {"kind": "party"}, 422, "validation_error"),
    ("unknown field", {"colour": "red"}, 422, "validation_error"),
    ("priority 1000", {"priority": 1000}, 422, "validation_error"),
    ("nan latitude", {"location": {"lat": "NaN", "lon": 6.1}}, 422, "validation_error"),
]


@pytest.mark.parametrize(("over", "status", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_action_bodies(api_settings, api_factory, deventer, over, status, code):
    h = token(api_factory, "centralist", "*")
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(**over), headers={**h, "Idempotency-Key": "k"})
    assert r.status_code == status, r.text
    assert problem(r)["code"] == code
    assert counts(api_factory) == EMPTY


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_token"),
        ({"Authorization": "Bearer wrong"}, 401, "invalid_token"),
    ],
)
def test_bad_tokens_store_nothing(api_settings, api_factory, deventer, headers, status, code):
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(), headers=headers)
    assert (r.status_code, problem(r)["code"]) == (status, code)
    assert counts(api_factory) == EMPTY


def test_expired_token_stores_nothing(api_settings, api_factory, deventer):
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(),
                   headers=token(api_factory, "centralist", expires_days=-0.001))
    assert (r.status_code, problem(r)["code"]) == (401, "token_expired")
    assert counts(api_factory) == EMPTY


def test_bad_follow_up_bodies(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        before = counts(api_factory, aid)
        answers = {
            "update_lf": c.post(f"/v1/actions/{aid}/update", json={"text": "a\nb c d e"},
                                headers=h),
            "close_empty": c.post(f"/v1/actions/{aid}/close", json={"outcome": " "}, headers=h),
            "expand_far": c.post(f"/v1/actions/{aid}/expand",
                                 json={"area": {"radius_m": 900_000}}, headers=h),
            "expand_none": c.post(f"/v1/actions/{aid}/expand", json={}, headers=h),
        }
        state = c.get(f"/v1/actions/{aid}", headers=h).json()["state"]
    codes = {k: (v.status_code, problem(v)["code"]) for k, v in answers.items()}
    assert codes == {"update_lf": (422, "invalid_text"), "close_empty": (422, "text_empty"),
                     "expand_far": (422, "invalid_radius"),
                     "expand_none": (422, "validation_error")}
    assert state == "running"
    assert counts(api_factory, aid) == before
