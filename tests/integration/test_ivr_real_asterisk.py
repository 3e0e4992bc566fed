"""Against a real Asterisk running ../shared/asterisk/example-conf (skipped when none is set).

BNET_TEST_AMI=host:port (AMI user ``engine`` / ``engine-secret`` as in example-conf) and
BNET_TEST_AGI_PORT (the port of the dialplan's agi:// URLs, 14573 in example-conf): a Local
channel into ``inbound-callback`` runs AGI(callback) against our server, which must link the
caller and set the queue priority before Asterisk goes on to Queue(centralist).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import InboundCall
from engine.ivr.callback import make_callback_route
from engine.ivr.server import FastAgiServer
from tests.ivr_support import add_action, add_participant, add_target

pytestmark = [pytest.mark.integration, pytest.mark.asterisk]
AMI = os.environ.get("BNET_TEST_AMI", "")
AGI_PORT = os.environ.get("BNET_TEST_AGI_PORT", "")

if not (AMI and AGI_PORT):
    pytest.skip(
        "no real Asterisk configured (set BNET_TEST_AMI=host:port and BNET_TEST_AGI_PORT)",
        allow_module_level=True,
    )


async def _ami_originate_local(caller: str) -> None:
    host, port = AMI.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await reader.readline()  # banner
    action = (
        "Action: Login\r\nUsername: engine\r\nSecret: engine-secret\r\n\r\n"
        "Action: Originate\r\nChannel: Local/4930123456@inbound-callback\r\n"
        f"Application: Wait\r\nData: 5\r\nCallerID: <{caller}>\r\nAsync: true\r\n"
        f"ChannelId: {uuid.uuid4()}\r\nActionID: ivr-test\r\n\r\n"
    )
    writer.write(action.encode())
    await writer.drain()
    await asyncio.sleep(0.5)
    writer.write(b"Action: Logoff\r\n\r\n")
    writer.close()


async def test_real_asterisk_callback_is_linked(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        person = add_participant(s, "+31612345678")
        action = add_action(s)
        add_target(s, action, "+31612345678", person)
        action_id = action.id
    routes = {"callback": make_callback_route(session_factory)}
    server = FastAgiServer(routes, host="127.0.0.1", port=int(AGI_PORT))
    await server.start()
    try:
        await _ami_originate_local("0612345678")
        for _ in range(100):
            if server.stats.completed:
                break
            await asyncio.sleep(0.1)
    finally:
        await server.stop()
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
    assert call.action_id == action_id and call.caller_e164 == "+31612345678"
