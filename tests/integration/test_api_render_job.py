"""The RQ job that renders an action's voice script (real espeak-ng), run directly."""

from __future__ import annotations

import shutil

import pytest

from engine.actions.models import Action
from engine.actions.models_api import ActionMessage
from engine.config import Settings
from rq_workers.actions import run_render_action_audio
from tests import actions_support
from tests.actions_support import FakeRedis, client, new_action, token

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory
deventer = actions_support.deventer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]


def test_render_job_stores_the_audio_hash_of_alert_and_update(tmp_path, api_url, api_factory,
                                                               deventer):
    from sqlalchemy import select, update

    from engine.actions.models import CallAttempt

    settings = Settings(data_dir=tmp_path, store={"url": api_url},  # type: ignore[arg-type]
                        tts={"cache_dir": str(tmp_path / "sounds")})  # type: ignore[arg-type]
    h = token(api_factory, "centralist", "*")
    redis = FakeRedis()
    with client(settings, api_factory) as c:
        aid = c.post("/v1/actions", json=new_action(), headers=h).json()["id"]
        with api_factory() as s, s.begin():  # someone answered, so the update is a call
            s.execute(update(CallAttempt).where(CallAttempt.action_id == aid)
                      .values(answered_at=CallAttempt.due_at))
        c.post(f"/v1/actions/{aid}/update", json={"text": "Hij draagt nu een blauwe pet"},
               headers=h)
    sha = run_render_action_audio(aid, settings, redis)
    again = run_render_action_audio(aid, settings, redis)
    with api_factory() as s:
        action = s.get(Action, aid)
        message = s.scalar(select(ActionMessage).where(ActionMessage.action_id == aid))
    assert action is not None and message is not None
    assert sha == again == action.audio_hash and len(sha or "") == 64
    assert (tmp_path / "sounds").exists() and any((tmp_path / "sounds").rglob(f"{sha}*"))
    assert message.audio_hash and message.audio_hash != sha
    assert f"bnet:progress:{aid}" in redis.channels()
