"""Live counts as the SSE stream reports them, from the rows the services update."""

from __future__ import annotations

from sqlalchemy import select

from engine.actions.counts import action_counts
from engine.actions.models import CallAttempt, InboundCall, SmsMessage
from tests import actions_support
from tests.actions_support import client, new_action, token

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory
api_settings = actions_support.api_settings
deventer = actions_support.deventer


def test_counts_follow_calls_sms_and_callbacks(api_settings, api_factory, deventer):
    h = token(api_factory, "centralist", "ijsselland")
    with client(api_settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(area={"radius_m": 400}), headers=h).json()["id"]
    with api_factory() as s, s.begin():
        calls = s.scalars(select(CallAttempt).where(CallAttempt.action_id == aid)
                          .order_by(CallAttempt.rank)).all()
        texts = s.scalars(select(SmsMessage).where(SmsMessage.action_id == aid)).all()
        assert len(calls) >= 3 and len(texts) >= 2
        calls[0].state = "ringing"                                         # calling
        calls[1].state, calls[1].answered_at = "answered", calls[1].due_at  # answered
        calls[2].state, calls[2].ended_at = "failed", calls[2].due_at      # failed
        texts[0].state = "submitted"
        texts[1].state = "delivered"
        s.add(InboundCall(uniqueid="1700000000.1", action_id=aid))
    with api_factory() as s:
        got = action_counts(s, aid)
    assert got["selected"] >= 3 and got["state"] == "running"
    assert (got["calling"], got["answered"], got["failed"]) == (1, 1, 1)
    assert got["queued"] == len(calls) - 3
    assert (got["sms_sent"], got["sms_delivered"], got["sms_failed"]) == (2, 1, 0)
    assert got["callbacks"] == 1
