"""The dialer against a real Asterisk (BNET_TEST_AMI), the same outcomes as the simulator tier.

Needs an Asterisk configured from ``asterisk/`` (``bnet asterisk render-config``) whose trunk
endpoint (BNET_TEST_TRUNK, default ``trunk``) reaches sipp phones from
``../shared/asterisk/sipp``, one per number given in BNET_TEST_NUMBERS as
``+number=outcome,...`` (e.g. ``+31201000001=answered,+31201000002=busy`` with uas-answer.xml
and uas-busy.xml listening where the trunk's contact points). ``BNET_TEST_AMI`` is
``host:port`` or ``user:secret@host:port`` (default user ``engine``/``engine-secret``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.dialer.settings import AsteriskServer, DialerSettings, TrunkSettings
from tests.dialer_support import attempts, running_dialer, seed_action, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.asterisk,
    pytest.mark.skipif(
        not os.environ.get("BNET_TEST_AMI"),
        reason="no real Asterisk: set BNET_TEST_AMI=host:port (and BNET_TEST_NUMBERS) to run",
    ),
]


def _server() -> AsteriskServer:
    spec = os.environ["BNET_TEST_AMI"]
    user, secret = "engine", "engine-secret"
    if "@" in spec:
        cred, spec = spec.rsplit("@", 1)
        user, _, secret = cred.partition(":")
    host, _, port = spec.rpartition(":")
    return AsteriskServer(name="real", host=host or "127.0.0.1", port=int(port),
                          username=user, secret=secret, simulated=False)


def _expected() -> dict[str, str]:
    raw = os.environ.get("BNET_TEST_NUMBERS", "+31201000001=answered")
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {number.strip(): outcome.strip() for number, outcome in pairs}


async def test_real_asterisk_outcomes_and_no_duplicates(
    session_factory: sessionmaker[Session], redis_client: Any
) -> None:
    expected = _expected()
    settings = DialerSettings(
        servers=[_server()],
        trunks=[TrunkSettings(name="real", server="real", max_channels=10, max_cps=5,
                              endpoint=os.environ.get("BNET_TEST_TRUNK", "trunk"),
                              prefixes=["+"])],
        originate_timeout_s=30,
    )
    action = seed_action(session_factory, list(expected))
    async with running_dialer(session_factory, redis_client, settings=settings,
                              sim=_NoSim()) as (svc, _):
        await settle(svc, session_factory, action, timeout=90)
    first = {r.e164: r.outcome for r in attempts(session_factory, action) if r.attempt_no == 1}
    assert first == expected


class _NoSim:
    """Stands in for the simulator handle: the real Asterisk is already running."""

    port = 0

    async def stop(self) -> None:
        return None
