"""Open the configured store from settings (CLI, services, workers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.config import Settings
from engine.store.db import make_engine, make_sessionmaker


@contextmanager
def open_store(settings: Settings) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(settings.store.url)
    try:
        yield engine, make_sessionmaker(engine)
    finally:
        engine.dispose()
