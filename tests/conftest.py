"""Shared fixtures: real servers on free ports, fresh stores; everything cleaned up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from engine.embedded import start_redis
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade
from tests.pg_support import pg_available, postgres_cluster

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "DESIGN.md").exists():
        pytest.skip(f"../shared is not beside the checkout ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bnet.db'}"
    upgrade(url)
    return url


@pytest.fixture
def session_factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL database (schema dropped again afterwards)."""
    engine = make_engine(pg_server)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    upgrade(pg_server)
    yield pg_server


@pytest.fixture
def geo_session_factory(
    session_factory: sessionmaker[Session], shared_dir: Path
) -> sessionmaker[Session]:
    from engine.geo.importer import import_pc4_file

    with session_factory() as session, session.begin():
        import_pc4_file(session, shared_dir / "data" / "geo" / "nl_pc4.csv")
    return session_factory


# Stores on SQLite and PostgreSQL with the PC4 table, copied from a session template (geo,
# participants and store tests).
from tests.participants_support import _pg_template, _sqlite_template, geo_store  # noqa: E402,F401
