"""Property-based run against the published OpenAPI schema: no input may cause a 5xx.

In-process (ASGI), a few examples per operation, so it stays well under a minute.
"""

from __future__ import annotations

import gc
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from engine.api.app import create_app
from engine.store.db import make_engine, make_sessionmaker
from tests import actions_support
from tests.actions_support import FakeRedis, regions, seed_deventer, settings_for, token

api_template = actions_support.api_template

pytestmark = [
    pytest.mark.integration,
    # schemathesis 3.x leans on deprecated jsonschema APIs throughout.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    # starlette's TestClient (which schemathesis drives) leaves anyio streams to the GC.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, api_template: Path) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copyfile(api_template, folder / "bnet.db")
    url = f"sqlite:///{folder / 'bnet.db'}"
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    regions(factory)
    seed_deventer(factory)
    app = create_app(settings_for(folder, url), session_factory=factory, redis=FakeRedis())
    yield {"app": app, "headers": token(factory, "admin", "*")}
    engine.dispose()
    # Collect the TestClient's leaked streams now, under this module's warning filters,
    # rather than during some later test.
    gc.collect()


def _many_more(self: Any) -> bool:
    """hypothesis-jsonschema 0.23 calls ``many.more()``, which Hypothesis 6.15x replaced by
    ``with many(...) as m: for _ in m``; this drives the new protocol the old way."""
    it = self.__dict__.get("_compat_iter")
    if it is None:
        self.__enter__()
        it = self._compat_iter = iter(self)
    try:
        next(it)
    except StopIteration:
        self.__exit__(None)
        return False
    return True


@pytest.fixture(scope="module")
def many_compat() -> Iterator[None]:
    from hypothesis.internal.conjecture import utils as cu

    if hasattr(cu.many, "more"):
        yield
        return
    cu.many.more = _many_more
    yield
    del cu.many.more


@pytest.fixture(scope="module")
def api_schema(live: dict[str, Any], many_compat: None) -> Any:
    # FastAPI publishes OpenAPI 3.1; schemathesis 3.x supports it behind this switch.
    schemathesis.experimental.OPEN_API_3_1.enable()
    return schemathesis.from_asgi("/openapi.json", live["app"])


with warnings.catch_warnings():
    # schemathesis 3.39 warns about a deprecated `method` argument nobody passed.
    warnings.simplefilter("ignore", DeprecationWarning)
    schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, live: dict[str, Any]) -> None:
    if case.path.endswith("/events"):
        pytest.skip("an endless SSE stream; covered by test_api_sse")
    response = case.call(headers={**(case.headers or {}), **live["headers"]})
    case.validate_response(response, checks=(not_a_server_error,))
