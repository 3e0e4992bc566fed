"""Alembic migrations on SQLite and PostgreSQL: up, down, and in step with the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.store.db import make_engine
from engine.store.migrate import alembic_config, upgrade
from engine.store.registry import metadata

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_models_match_migrations(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata())
    engine.dispose()
    assert diff == [], "models and migrations differ; write a migration for: " + repr(diff)[:2000]


def test_downgrade_to_base_and_upgrade_again(migrated_url: str) -> None:
    expected = set(metadata().tables)
    assert _tables(migrated_url) == expected
    command.downgrade(alembic_config(migrated_url), "base")
    assert _tables(migrated_url) == set()
    upgrade(migrated_url)
    assert _tables(migrated_url) == expected
    upgrade(migrated_url)  # at head already: nothing to do, no error
