"""An update or outcome call plays its own message, never the alert's (dialer + IVR menu)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import Action
from engine.actions.models_api import ActionMessage
from engine.dialer.records import action_meta
from engine.ivr.menu_store import load_menu_call
from tests.ivr_support import add_action, add_attempt, add_participant, add_target

pytestmark = pytest.mark.integration


def _sound(action: Action) -> str:
    if not action.audio_hash:
        raise LookupError("not rendered")
    return f"bnet-{action.audio_hash}"


def _setup(factory: sessionmaker[Session], purpose: str, audio: str | None) -> tuple[str, str]:
    with factory() as s, s.begin():
        action = add_action(s)
        person = add_participant(s, "+31612345678")
        target = add_target(s, action, "+31612345678", person)
        attempt = add_attempt(s, target)
        attempt.purpose = purpose
        if purpose != "alert":
            s.add(ActionMessage(action_id=action.id, purpose=purpose, voice_script="Update.",
                                audio_hash=audio, created_by="test"))
        return action.id, attempt.id


def test_dialer_sends_the_update_audio_for_an_update_call(
        session_factory: sessionmaker[Session]) -> None:
    action_id, _ = _setup(session_factory, "update", "cd" * 32)
    with session_factory() as s:
        meta = action_meta(s, [action_id])[action_id]
    assert meta.audio_for("alert") == "ab" * 32
    assert meta.audio_for("update") == "cd" * 32
    assert meta.audio_for("outcome") is None  # not rendered yet: no message rather than the alert


def test_menu_plays_the_update_not_the_alert(session_factory: sessionmaker[Session]) -> None:
    _, attempt_id = _setup(session_factory, "update", "cd" * 32)
    with session_factory() as s:
        call = load_menu_call(s, attempt_id, _sound)
    assert call is not None
    assert call.message == f"bnet-{'cd' * 32}"
    assert call.fallback_message is None


def test_unrendered_update_never_falls_back_to_the_alert(
        session_factory: sessionmaker[Session]) -> None:
    _, attempt_id = _setup(session_factory, "update", None)
    with session_factory() as s, pytest.raises(LookupError):
        load_menu_call(s, attempt_id, _sound)
