"""Import every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

import engine.actions.models
import engine.actions.models_api
import engine.geo.models
import engine.participants.models
import engine.store.ops  # noqa: F401
from engine.store.base import Base


def metadata() -> MetaData:
    return Base.metadata
