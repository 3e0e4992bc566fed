"""Our server against the AGI side of the recorded calls: the environment blocks exactly as
Asterisk 22 sent them, and the replies it gave (transcripts 08, 14, 15)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions.models import InboundCall
from engine.ivr.agi_protocol import parse_environment
from engine.ivr.callback import make_callback_route
from engine.ivr.menu import make_menu_route
from tests.ivr_support import (
    PeerScript,
    RecordedAgi,
    add_action,
    add_attempt,
    add_participant,
    add_target,
    recorded_agi_sessions,
    run_peer,
    serving,
    set_variables,
)

pytestmark = pytest.mark.integration


def _env(recorded: RecordedAgi) -> dict[str, str]:
    return parse_environment(recorded.env_text).values


def _reply_to(recorded: RecordedAgi, prefix: str) -> list[str]:
    return next(lines for command, lines in recorded.exchanges if command.startswith(prefix))


async def test_transcript_08_caller_reaches_the_queue(
    session_factory: sessionmaker[Session],
) -> None:
    (recorded,) = recorded_agi_sessions("08")
    # GET DATA answered as in the recording: the caller's "1" ends the prompt
    script = PeerScript(_env(recorded), replies={"GET DATA": [_reply_to(recorded, "GET DATA")]})
    async with serving({"callback": make_callback_route(session_factory)}) as server:
        peer = await run_peer(server.port, script)
    variables = set_variables(peer.commands)
    assert variables["BNET_ROUTE"] == "queue" and variables["QUEUE_PRIO"] == "1"
    with session_factory() as s:
        call = s.scalars(select(InboundCall)).one()
    assert call.uniqueid == "1795522167.13" and call.outcome is None


async def test_transcript_14_hangup_during_get_data(session_factory: sessionmaker[Session]) -> None:
    (recorded,) = recorded_agi_sessions("14")
    # 200 result=-1, then HANGUP, then 511 for CHANNEL STATUS: as recorded
    assert _reply_to(recorded, "GET DATA") == ["200 result=-1"]
    script = PeerScript(_env(recorded), hangup_on="GET DATA")
    async with serving({"callback": make_callback_route(session_factory)}) as server:
        await run_peer(server.port, script)
    assert server.stats.hangups == 1 and server.stats.fallbacks == 0
    with session_factory() as s:
        assert s.scalars(select(InboundCall.outcome)).one() == "hung_up_in_ivr"


async def test_transcript_15_menu_choices(session_factory: sessionmaker[Session]) -> None:
    sessions = recorded_agi_sessions("15")
    with session_factory() as s, s.begin():
        for i, recorded in enumerate(sessions):
            number = f"+3161234567{i}"
            action = add_action(s)
            attempt = add_attempt(s, add_target(s, action, number, add_participant(s, number)))
            attempt.id = _env(recorded)["agi_uniqueid"]  # the Originate ChannelId
    route = make_menu_route(session_factory, lambda action: "burgernet-msg")
    choices = []
    async with serving({"menu": route}) as server:
        for recorded in sessions:
            replies = {
                "STREAM FILE": [["200 result=0 endpos=16800"]],
                "GET DATA": [_reply_to(recorded, "GET DATA")],
            }
            peer = await run_peer(server.port, PeerScript(_env(recorded), replies=replies))
            choices.append(set_variables(peer.commands)["MENU_CHOICE"])
    # (a) 2 while GET DATA waited, (b) nothing, (c) 2 lost during Playback, (d) 2 in the prompt
    assert choices == ["2", "timeout", "timeout", "2"]
