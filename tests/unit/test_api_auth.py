"""Bearer tokens, roles and region scope, as a dispatch system meets them over HTTP."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from engine.api.auth import Principal, authenticate, create_token, require
from engine.errors import EngineError
from engine.store.ops import ApiToken
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


def test_secret_is_stored_only_as_sha256(api_factory):
    with api_factory() as s, s.begin():
        created = create_token(s, name="meldkamer-oost", role="centralist", region="oost")
    with api_factory() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.id == created.token_id))
        assert row is not None
        assert row.secret_hash == hashlib.sha256(created.secret.encode()).hexdigest()
        assert created.secret not in str([row.secret_hash, row.name, row.id])
        principal = authenticate(s, f"Bearer {created.secret}")
    assert principal == Principal(created.token_id, "meldkamer-oost", "centralist", "oost")


def test_unknown_roles_are_refused(api_factory):
    with api_factory() as s, pytest.raises(EngineError) as info:
        create_token(s, name="x", role="root", region="*")
    assert info.value.code == "bad_role"
    with pytest.raises(ValueError):
        require("root")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_token"),
        ("Bearer", "invalid_token"),
        ("Basic dXNlcjpwdw==", "invalid_token"),
        ("Bearer bnet_not-a-real-token", "invalid_token"),
    ],
)
def test_missing_or_wrong_token_is_401(api_settings, api_factory, header, code):
    headers = {"Authorization": header} if header else {}
    with client(api_settings, api_factory) as c:
        r = c.get("/v1/actions", headers=headers)
    assert r.status_code == 401
    assert problem(r)["code"] == code
    assert r.headers["www-authenticate"] == "Bearer"


def test_expired_and_revoked_tokens_are_401(api_settings, api_factory):
    expired = token(api_factory, "centralist", expires_days=-1)
    revoked = token(api_factory, "centralist")
    with api_factory() as s, s.begin():
        for row in s.scalars(select(ApiToken)):
            row.revoked = row.expires_at is None
    with client(api_settings, api_factory) as c:
        r1 = c.get("/v1/actions", headers=expired)
        r2 = c.get("/v1/actions", headers=revoked)
    assert (r1.status_code, problem(r1)["code"]) == (401, "token_expired")
    assert (r2.status_code, problem(r2)["code"]) == (401, "invalid_token")


def test_wrong_role_is_403(api_settings, api_factory, deventer):
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(),
                   headers=token(api_factory, "relatiebeheer"))
        r2 = c.get("/v1/actions", headers=token(api_factory, "telecom-admin"))
    assert (r.status_code, problem(r)["code"]) == (403, "forbidden_role")
    assert r2.status_code == 403
    assert counts(api_factory)["actions"] == 0


def test_centralist_cannot_create_outside_their_region(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "gelderland-noord")
    with client(api_settings, api_factory) as c:
        r = c.post("/v1/actions", json=new_action(), headers=h)  # Deventer: ijsselland
    assert (r.status_code, problem(r)["code"]) == (403, "outside_region")
    assert counts(api_factory) == {"actions": 0, "targets": 0, "calls": 0, "sms": 0, "dossier": 0}


def test_other_region_cannot_see_or_touch_an_action(api_settings, api_factory, deventer):
    own = token(api_factory, "centralist", "ijsselland")
    other = token(api_factory, "centralist", "gelderland-noord")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=own).json()["id"]
        seen = c.get("/v1/actions", headers=other).json()
        answers = [
            c.get(f"/v1/actions/{aid}", headers=other),
            c.get(f"/v1/actions/{aid}/dossier", headers=other),
            c.post(f"/v1/actions/{aid}/cancel", headers=other),
            c.post(f"/v1/actions/{aid}/update", json={"text": "nieuwe info hier"}, headers=other),
        ]
        still = c.get(f"/v1/actions/{aid}", headers=own).json()["state"]
        admin = c.get(f"/v1/actions/{aid}", headers=token(api_factory, "admin", "x"))
        auditor_all = c.get("/v1/actions", headers=token(api_factory, "auditor", "*")).json()
    assert seen == {"items": [], "total": 0}
    for r in answers:
        assert (r.status_code, problem(r)["code"]) == (404, "action_not_found")
    assert still == "running"
    assert admin.status_code == 200
    assert auditor_all["total"] == 1
