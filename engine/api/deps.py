"""What every route needs, built once by ``create_app`` and reached through ``app.state``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.ports import Locator, Selector
from engine.config import Settings


@dataclass
class AppDeps:
    settings: Settings
    session_factory: sessionmaker[Session]
    #: Synchronous redis client for wakes and progress; None runs without Redis (tests).
    redis: Any
    selector: Selector | None
    locator: Locator | None
    #: RQ queue for render jobs; None skips enqueueing.
    queue: Any = None
    #: Cached PC4 index for relatiebeheer (None while the geo feature is absent).
    geo: Any = None


def get_deps(request: Request) -> AppDeps:
    deps: AppDeps = request.app.state.deps
    return deps


def get_session(request: Request) -> Iterator[Session]:
    """A session whose transaction the route commits explicitly (or rolls back on error)."""
    factory = get_deps(request).session_factory
    with factory() as session:
        yield session


Deps = Annotated[AppDeps, Depends(get_deps)]
DbSession = Annotated[Session, Depends(get_session)]
