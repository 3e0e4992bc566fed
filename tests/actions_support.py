"""Shared helpers for the actions/API tests: settings, tokens, participants, an app client."""

from __future__ import annotations

import json
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import Action, ActionTarget, CallAttempt, DossierEntry, SmsMessage
from engine.api.app import create_app
from engine.api.auth import create_token, set_region
from engine.config import Settings
from engine.participants.models import Address, Participant, Phone
from engine.store.base import utcnow
from engine.store.db import make_engine, make_sessionmaker
from engine.store.migrate import upgrade

with warnings.catch_warnings():
    # starlette's TestClient touches a deprecated anyio alias at import (starlette 0.52).
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

DEVENTER = {"lat": 52.2524, "lon": 6.1595}  # PC4 7411
#: Deventer PC4 centroids (from ../shared/data/geo) used to spread participants.
DEVENTER_PC4 = [("7411", 52.2524, 6.1595), ("7412", 52.2636, 6.1415), ("7413", 52.2614, 6.1592),
                ("7415", 52.2695, 6.1651), ("7416", 52.2582, 6.1735), ("7421", 52.2437, 6.2211),
                ("7433", 52.2704, 6.1982), ("7437", 52.2493, 6.2942)]
#: Twello/Wilp (municipality Voorst, GM0285): the neighbour region west of Deventer.
VOORST_PC4 = [("7391", 52.2401, 6.1219), ("7392", 52.2350, 6.1212)]


@dataclass
class FakeRedis:
    """Records PUBLISH calls (the API only publishes)."""

    published: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, channel: str, message: str) -> int:
        self.published.append((channel, message))
        return 0

    def channels(self) -> list[str]:
        return [c for c, _ in self.published]


@dataclass
class FakeQueue:
    jobs: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def enqueue(self, func: str, *args: Any) -> None:
        self.jobs.append((func, args))


def settings_for(tmp_path: Path, url: str, **actions: Any) -> Settings:
    return Settings(data_dir=tmp_path, store={"url": url},  # type: ignore[arg-type]
                    region_default="elders", actions=actions or {})  # type: ignore[arg-type]


def token(factory: sessionmaker[Session], role: str, region: str = "*",
          expires_days: float | None = None) -> dict[str, str]:
    with factory() as s, s.begin():
        created = create_token(s, name=f"{role}-{region}", role=role, region=region,
                               expires_days=expires_days)
    return {"Authorization": f"Bearer {created.secret}"}


def regions(factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        set_region(s, "ijsselland", ["GM0150", "GM1773"])
        set_region(s, "gelderland-noord", ["GM0285"])


def add_participant(s: Session, n: int, pc4: tuple[str, float, float], *, kind: str = "mobile",
                    pref: str = "both", tester: bool = False, email: str | None = None,
                    status: str = "active") -> str:
    e164 = f"+316{n:08d}" if kind == "mobile" else f"+31570{n:06d}"
    p = Participant(name=f"P{n}", channel_pref=pref, status=status, consent_at=utcnow(),
                    is_tester=tester, email=email, email_followups=email is not None)
    p.phones = [Phone(e164=e164, kind=kind)]
    p.addresses = [Address(pc4=pc4[0], postcode=pc4[0], lat=pc4[1], lon=pc4[2])]
    s.add(p)
    return e164


def seed_deventer(factory: sessionmaker[Session], per_pc4: int = 3) -> list[str]:
    """Mobiles and landlines in Deventer, a few sms-only, one tester, one unsubscribed."""
    numbers = []
    with factory() as s, s.begin():
        n = 0
        for pc4 in DEVENTER_PC4:
            for i in range(per_pc4):
                n += 1
                kind = "landline" if i == 2 else "mobile"
                pref = "sms" if i == 1 and n % 2 else "both"
                numbers.append(add_participant(s, n, pc4, kind=kind, pref=pref))
        add_participant(s, 900, DEVENTER_PC4[0], tester=True)
        add_participant(s, 901, DEVENTER_PC4[0], status="unsubscribed")
        for j, pc4 in enumerate(VOORST_PC4):
            add_participant(s, 950 + j, pc4)
    return numbers


def new_action(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "suspect",
                            "signalement": "Gezocht: man, ongeveer 30 jaar, rode jas, op een "
                                           "zwarte fiets richting centrum.",
                            "location": {"postcode": "7411"}, "area": {"radius_m": 2000},
                            "channels": "both"}
    body.update(over)
    return body


@contextmanager
def client(settings: Settings, factory: sessionmaker[Session], redis: Any = None,
           queue: Any = None) -> Iterator[TestClient]:
    app = create_app(settings, session_factory=factory, redis=redis or FakeRedis(),
                     queue=queue)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def counts(factory: sessionmaker[Session], action_id: str | None = None) -> dict[str, int]:
    """Row counts (optionally of one action): what a half-written create would leave behind."""
    out = {}
    with factory() as s:
        for name, model in (("actions", Action), ("targets", ActionTarget),
                            ("calls", CallAttempt), ("sms", SmsMessage),
                            ("dossier", DossierEntry)):
            stmt = select(func.count()).select_from(model)
            if action_id is not None:
                col = model.id if model is Action else model.action_id
                stmt = stmt.where(col == action_id)
            out[name] = int(s.scalar(stmt) or 0)
    return out


def problem(resp: Any) -> dict[str, Any]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    body: dict[str, Any] = json.loads(resp.text)
    return body


# --- fixtures (import them into a test module to use them) -------------------------------------


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    """A migrated store with the PC4 table, built once and copied per test (fast)."""
    from engine.geo.importer import import_pc4_file

    path = tmp_path_factory.mktemp("api-template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s, s.begin():
        import_pc4_file(s, shared_dir / "data" / "geo" / "nl_pc4.csv")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def api_url(tmp_path: Path, api_template: Path) -> str:
    target = tmp_path / "bnet.db"
    shutil.copyfile(api_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def api_factory(api_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(api_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def api_settings(tmp_path: Path, api_url: str) -> Settings:
    return settings_for(tmp_path, api_url)


@pytest.fixture
def deventer(api_factory: sessionmaker[Session]) -> list[str]:
    """Regions ijsselland (Deventer) and gelderland-noord (Voorst), participants in both."""
    regions(api_factory)
    return seed_deventer(api_factory)


class LiveServer:
    """The app under a real uvicorn in a thread, on a free port."""

    def __init__(self, app: Any) -> None:
        import uvicorn
        from sse_starlette.sse import AppStatus

        from engine.embedded import free_port

        # sse-starlette keeps one shutdown Event per process, bound to the first event loop.
        AppStatus.should_exit_event = None
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                   log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
