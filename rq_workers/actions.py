"""RQ jobs for actions: load by ID, call the engine, store the result. No live connections."""

from __future__ import annotations

from typing import Any

from redis import Redis
from sqlalchemy import select

from engine.actions import progress
from engine.actions.models import Action
from engine.actions.models_api import ActionMessage
from engine.config import Settings, load_settings
from engine.store.db import make_engine, make_sessionmaker, transaction

QUEUE = "bnet"


def render_action_audio(action_id: str) -> str | None:
    """The job: render the action's voice script (and update/outcome texts) once."""
    settings = load_settings()
    redis = Redis.from_url(settings.redis.url)
    try:
        return run_render_action_audio(action_id, settings, redis)
    finally:
        redis.close()


def run_render_action_audio(action_id: str, settings: Settings, redis: Any = None
                            ) -> str | None:
    """Render and store ``Action.audio_hash``; the TTS cache makes a rerun cheap."""
    from engine.tts.render import render

    engine = make_engine(settings.store.url)
    try:
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            action = session.get(Action, action_id)
            if action is None:
                return None
            pending = session.scalars(select(ActionMessage).where(
                ActionMessage.action_id == action_id, ActionMessage.audio_hash.is_(None),
                ActionMessage.voice_script != "")).all()
            texts: list[tuple[ActionMessage | None, str]] = (
                [(None, action.voice_script)] if action.audio_hash is None else [])
            texts += [(m, m.voice_script) for m in pending]
        # Rendering takes seconds: do it outside any transaction.
        rendered = [(m, render(text, settings.tts).sha256) for m, text in texts]
        with transaction(factory) as session:
            for message, sha in rendered:
                if message is None:
                    row = session.get(Action, action_id)
                    if row is not None:
                        row.audio_hash, row.tts_backend = sha, settings.tts.backend
                else:
                    session.merge(message).audio_hash = sha
            final = session.get(Action, action_id)
            audio = final.audio_hash if final is not None else None
    finally:
        engine.dispose()
    progress.publish(redis, action_id, {"kind": "audio_ready"})
    return audio


def complete_fanout(action_id: str) -> int:
    """The job: finish a fan-out whose second write step failed (see actions.deferred)."""
    settings = load_settings()
    redis = Redis.from_url(settings.redis.url)
    try:
        return run_complete_fanout(action_id, settings, redis)
    finally:
        redis.close()


def run_complete_fanout(action_id: str, settings: Settings, redis: Any = None) -> int:
    """Select the action's area again without the numbers already targeted; returns targets."""
    from engine.actions.context import ActionContext
    from engine.actions.deferred import complete_area
    from engine.actions.effects import dispatch
    from engine.actions.ports import CachedGeo
    from engine.api.auth import Principal
    from engine.store.base import utcnow

    engine = make_engine(settings.store.url)
    try:
        geo = CachedGeo()
        ctx = ActionContext(settings=settings, principal=Principal("system", "rq", "admin", "*"),
                            now=utcnow(), selector=geo.select, locator=geo.locate)
        wave, effects = complete_area(make_sessionmaker(engine), ctx, action_id)
    finally:
        engine.dispose()
    if effects is not None:
        dispatch(redis, None, effects)
    return int(wave["targets"]) if wave else 0
