"""The AMI client and the recorded facts against a real Asterisk, when one is configured.

Set ``BNET_TEST_AMI=host:port`` (user/secret from ``BNET_TEST_AMI_USER`` /
``BNET_TEST_AMI_SECRET``, default ``engine`` / ``engine-secret``, as in
``../shared/asterisk/example-conf/manager.conf``).  The checks that need no phone always run
then; the call scenarios need the sipp phones of ``../shared/asterisk/sipp`` behind the
endpoint named by ``BNET_TEST_AMI_ENDPOINT`` (default ``trunk``) and run when
``BNET_TEST_AMI_CALLS=1``: ``BNET_TEST_AMI_NUMBER`` is dialled and must be answered by
``uas-answer.xml`` (Reason 4, Cause 16).  Without ``BNET_TEST_AMI`` every test is skipped.
The same checks run against the simulator in ``test_sim_asterisk*.py``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from engine.dialer.ami_client import AmiActionError, AmiClient, AmiConfig, AmiLoginError
from engine.dialer.ami_protocol import AmiMessage

TARGET = os.environ.get("BNET_TEST_AMI", "")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.asterisk,
    pytest.mark.skipif(not TARGET, reason="no real Asterisk: set BNET_TEST_AMI=host:port"),
]


def config(**kw: object) -> AmiConfig:
    host, _, port = TARGET.rpartition(":")
    base: dict[str, object] = {
        "host": host or "127.0.0.1",
        "port": int(port or 5038),
        "username": os.environ.get("BNET_TEST_AMI_USER", "engine"),
        "secret": os.environ.get("BNET_TEST_AMI_SECRET", "engine-secret"),
        "ping_interval": 60.0,
    }
    base.update(kw)
    return AmiConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def client() -> AsyncIterator[AmiClient]:
    ami = AmiClient(config())
    await ami.connect()
    yield ami
    await ami.stop()


async def wait_for(events: list[AmiMessage], name: str, timeout: float = 40.0) -> AmiMessage:
    async def wait() -> AmiMessage:
        while True:
            for e in events:
                if e.event == name:
                    return e
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(wait(), timeout)


async def test_banner_login_and_ping(client: AmiClient) -> None:
    assert (client.banner or "").startswith("Asterisk Call Manager/")
    assert (await client.ping())["Ping"] == "Pong"


async def test_bad_login_is_refused() -> None:
    with pytest.raises(AmiLoginError, match="Authentication failed"):
        await AmiClient(config(secret="wrong-" + uuid.uuid4().hex)).connect()


async def test_unknown_endpoint_fails_at_once_without_channel_events(client: AmiClient) -> None:
    events: list[AmiMessage] = []
    cid = str(uuid.uuid4())
    await client.originate(
        "PJSIP/1000@no-such-endpoint-bnet",
        channel_id=cid,
        context="outbound-msg",
        on_event=events.append,
    )
    response = await wait_for(events, "OriginateResponse", timeout=5)
    await asyncio.sleep(0.5)
    assert (response["Response"], response["Reason"]) == ("Failure", "0")
    assert [e.event for e in events] == ["OriginateResponse"]


async def test_redirect_of_unknown_channel_is_an_error(client: AmiClient) -> None:
    with pytest.raises(AmiActionError, match="Channel does not exist"):
        await client.redirect("PJSIP/trunk-99999999", "to-queue", "s")


async def test_core_show_channels_completes(client: AmiClient) -> None:
    channels = await client.core_show_channels()
    assert all(c.event == "CoreShowChannel" for c in channels)


async def test_filter_is_accepted(client: AmiClient) -> None:
    assert (await client.add_filter("^(OriginateResponse|Hangup)$"))["Response"] == "Success"


@pytest.mark.skipif(
    os.environ.get("BNET_TEST_AMI_CALLS") != "1",
    reason="call scenarios need the sipp phones: set BNET_TEST_AMI_CALLS=1",
)
async def test_answered_call_gives_reason_4_and_cause_16(client: AmiClient) -> None:
    endpoint = os.environ.get("BNET_TEST_AMI_ENDPOINT", "trunk")
    number = os.environ.get("BNET_TEST_AMI_NUMBER", "1000")
    events: list[AmiMessage] = []
    await client.originate(
        f"PJSIP/{number}@{endpoint}",
        channel_id=str(uuid.uuid4()),
        context="outbound-msg",
        variables={"MSG_FILE": "beep"},
        caller_id='"Engine" <4930123456>',
        on_event=events.append,
    )
    assert (await wait_for(events, "OriginateResponse"))["Reason"] == "4"
    assert (await wait_for(events, "Hangup"))["Cause"] == "16"
