"""The HTTP hook: ``create_app`` wires settings, store, Redis and routers, with no globals.

Run it with ``bnet api run`` (uvicorn) or ``uvicorn --factory engine.api.app:create_app``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.ports import CachedGeo, Locator, Selector
from engine.api import problems
from engine.api.deps import AppDeps
from engine.config import Settings, load_settings
from engine.store.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

#: Feature routers mounted under /v1 (module path, attribute).
_ROUTERS: tuple[str, ...] = (
    "engine.api.routes_actions",
    "engine.api.routes_action_ops",
    "engine.api.routes_events",
    "engine.api.routes_participants",
)
#: Routers other features provide; mounted when present.
_OPTIONAL_ROUTERS: tuple[str, ...] = ("engine.tts.http", "engine.dialer.http")


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    redis: Any = None,
    selector: Selector | None = None,
    locator: Locator | None = None,
    queue: Any = None,
) -> FastAPI:
    settings = settings or load_settings()
    if session_factory is None:
        session_factory = make_sessionmaker(make_engine(settings.store.url))
    if redis is None:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(settings.redis.url)
    app = FastAPI(
        lifespan=_lifespan,
        title="Burgernet engine",
        version="1",
        description="HTTP hook for meldkamer centralists: actions, progress, dossier.",
        openapi_url="/openapi.json",
    )
    geo = _optional(CachedGeo)
    app.state.deps = AppDeps(
        settings=settings,
        session_factory=session_factory,
        redis=redis,
        selector=selector or (geo.select if geo else None),
        locator=locator or (geo.locate if geo else None),
        queue=queue,
        geo=geo,
    )
    problems.install(app)
    app.include_router(_health_router())
    for name in _ROUTERS:
        app.include_router(importlib.import_module(name).router, prefix="/v1")
    for name in _OPTIONAL_ROUTERS:
        _mount_optional(app, name)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Build the selection snapshot in the background (seconds at national scale) so the first
    # action does not pay for it; a selection arriving meanwhile waits on the snapshot's lock.
    warming = asyncio.create_task(asyncio.to_thread(_warm, app.state.deps))
    yield
    if not warming.done():
        warming.cancel()
    hub = getattr(app.state, "progress_hub", None)
    if hub is not None:
        await hub.close()


def _warm(deps: AppDeps) -> None:
    if deps.geo is None:
        return
    try:
        with deps.session_factory() as session:
            deps.geo.warm(session)
    except Exception:  # the first selection builds it instead, or falls back to the store
        log.warning("selection snapshot could not be built at start-up", exc_info=True)


def _optional(factory: Any) -> Any:
    try:
        return factory()
    except (ImportError, AttributeError, RuntimeError):
        # Selection/geocoding not installed yet: the routes that need them answer 503.
        return None


def _mount_optional(app: FastAPI, name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return
    router = getattr(module, "router", None)
    if isinstance(router, APIRouter):
        # Media for Asterisk is not part of the hook's contract (and GET+HEAD on one route
        # gives duplicate operation ids).
        app.include_router(router, include_in_schema=False)


def _health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return router
