"""The same fan-out contract on PostgreSQL (the multi-node store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import ActionTarget, CallAttempt, SmsMessage
from engine.store.db import make_engine, make_sessionmaker
from tests.actions_support import (
    client,
    counts,
    new_action,
    regions,
    seed_deventer,
    settings_for,
    token,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_factory(pg_url: str, shared_dir: Path) -> Iterator[sessionmaker[Session]]:
    from engine.geo.importer import import_pc4_file

    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    with factory() as s, s.begin():
        import_pc4_file(s, shared_dir / "data" / "geo" / "nl_pc4.csv")
    regions(factory)
    seed_deventer(factory)
    yield factory
    engine.dispose()


def test_create_expand_update_close_on_postgres(tmp_path, pg_url, pg_factory):
    import engine.actions.service as service

    settings = settings_for(tmp_path, pg_url)
    h = token(pg_factory, "centralist", "ijsselland")
    with client(settings, pg_factory) as c:
        first = c.post("/v1/actions", json=new_action(), headers={**h, "Idempotency-Key": "a"})
        again = c.post("/v1/actions", json=new_action(), headers={**h, "Idempotency-Key": "a"})
        aid = first.json()["id"]
        expanded = c.post(f"/v1/actions/{aid}/expand", json={"area": {"radius_m": 9000}},
                          headers=h)
        with pg_factory() as s, s.begin():
            for call in s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)):
                call.answered_at = call.due_at
        closed = c.post(f"/v1/actions/{aid}/close", json={"outcome": "Aangehouden."},
                        headers=h)
        dossier = c.get(f"/v1/actions/{aid}/dossier", headers=h).json()
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["wave"]["targets"] > 0 and service.FIRST_RADIUS_M < 2000
    assert expanded.json()["result"]["targets"] > 0
    assert closed.status_code == 200 and closed.json()["action"]["state"] == "closed"
    assert dossier["verified"] is True
    with pg_factory() as s:
        numbers = s.scalars(select(ActionTarget.e164).where(ActionTarget.action_id == aid)).all()
        outcome_calls = s.scalars(select(CallAttempt.e164).where(
            CallAttempt.action_id == aid, CallAttempt.purpose == "outcome")).all()
        sms = s.scalars(select(SmsMessage).where(SmsMessage.action_id == aid)).all()
    assert len(numbers) == len(set(numbers))
    assert outcome_calls and all(m.smsc_ids == [] for m in sms)
    assert counts(pg_factory, aid)["targets"] == len(numbers)
