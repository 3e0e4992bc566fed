"""Outbound message menu over TCP against a real SQLite store (transcript 15's AGI side)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.models import Action, ActionTarget, CallAttempt, DossierEntry
from engine.ivr.menu import MenuConfig, make_menu_route
from engine.ivr.sounds import IvrSounds
from engine.participants.models import Participant
from tests.ivr_support import (
    PeerScript,
    add_action,
    add_attempt,
    add_participant,
    add_target,
    menu_env,
    run_peer,
    serving,
    set_variables,
)

pytestmark = pytest.mark.integration
NUMBER = "+31612345678"
SOUNDS = IvrSounds(menu="bnet/menu", unsubscribed="bnet/afgemeld", goodbye="bnet/dag")
PLAYED = ["200 result=0 endpos=16000"]  # STREAM FILE played to its end
TIMEOUT = ["200 result= (timeout)"]


def _sound(action: Action) -> str:
    return f"/var/lib/bnet/audio/{action.audio_hash}"


def _seed(factory: sessionmaker[Session]) -> tuple[str, str]:
    with factory() as s, s.begin():
        person = add_participant(s, NUMBER)
        action = add_action(s)
        target = add_target(s, action, NUMBER, person)
        attempt = add_attempt(s, target)
        # a later call to the same person in another action, not yet dialled
        other = add_target(s, add_action(s), NUMBER, person)
        add_attempt(s, other, state="queued")
        return attempt.id, action.id


async def _call(
    factory: sessionmaker[Session], attempt_id: str, *, with_arg: bool = True, **script: object
) -> PeerScript:
    route = make_menu_route(factory, _sound, MenuConfig(sounds=SOUNDS))
    async with serving({"menu": route}) as server:
        peer = PeerScript(menu_env(attempt_id, with_arg=with_arg), **script)  # type: ignore[arg-type]
        return await run_peer(server.port, peer)


def _kinds(factory: sessionmaker[Session], action_id: str) -> list[tuple[str, str]]:
    with factory() as s:
        assert dossier.verify(s, action_id).ok
        rows = s.scalars(
            select(DossierEntry)
            .where(DossierEntry.action_id == action_id)
            .order_by(DossierEntry.seq)
        )
        return [(r.kind, str(r.data.get("choice", ""))) for r in rows]


def _plays(peer: PeerScript) -> list[str]:
    return [c for c in peer.commands if c.startswith(("STREAM FILE", "GET DATA"))]


async def test_two_during_the_message_goes_to_the_meldkamer(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, action_id = _seed(session_factory)
    # STREAM FILE stops at the escape digit: result is its ASCII code (50 = "2")
    peer = await _call(
        session_factory, attempt_id, replies={"STREAM FILE": [["200 result=50 endpos=4000"]]}
    )
    assert _plays(peer) == [f"STREAM FILE /var/lib/bnet/audio/{'ab' * 32} 129"]
    assert set_variables(peer.commands)["MENU_CHOICE"] == "2"
    with session_factory() as s:
        attempt = s.get(CallAttempt, attempt_id)
        target = s.get(ActionTarget, attempt.target_id)  # type: ignore[union-attr]
        assert attempt is not None and attempt.dtmf == "2"
        assert target is not None and target.reached_by == "voice" and target.reached_at
    assert _kinds(session_factory, action_id) == [
        ("voice_message_heard", ""),
        ("menu_choice", "meldkamer"),
    ]


async def test_two_at_the_menu_prompt_like_transcript_15a(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, _ = _seed(session_factory)
    peer = await _call(
        session_factory,
        attempt_id,
        replies={"STREAM FILE": [PLAYED], "GET DATA": [["200 result=2"]]},
    )
    assert _plays(peer)[-1] == "GET DATA bnet/menu 5000 1"
    assert set_variables(peer.commands)["MENU_CHOICE"] == "2"


async def test_one_repeats_the_message_at_most_three_times(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, action_id = _seed(session_factory)
    peer = await _call(
        session_factory,
        attempt_id,
        replies={"STREAM FILE": [PLAYED], "GET DATA": [["200 result=1"]]},
    )
    plays = _plays(peer)
    assert sum(p.startswith("STREAM FILE /var") for p in plays) == 4  # first + 3 repeats
    assert plays[-1] == 'STREAM FILE bnet/dag ""'
    assert set_variables(peer.commands)["MENU_CHOICE"] == "timeout"
    with session_factory() as s:
        assert s.get(CallAttempt, attempt_id).dtmf == "1111"  # type: ignore[union-attr]
    assert [k for k in _kinds(session_factory, action_id) if k[0] == "menu_choice"][-1] == (
        "menu_choice",
        "too_many_tries",
    )


async def test_nine_unsubscribes_and_cancels_queued_calls(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, action_id = _seed(session_factory)
    peer = await _call(
        session_factory,
        attempt_id,
        replies={"STREAM FILE": [PLAYED], "GET DATA": [["200 result=9"]]},
    )
    assert 'STREAM FILE bnet/afgemeld ""' in peer.commands
    assert set_variables(peer.commands)["MENU_CHOICE"] == "9"
    with session_factory() as s:
        person = s.scalars(select(Participant)).one()
        assert person.status == "unsubscribed" and person.unsubscribed_at
        states = sorted(a.state for a in s.scalars(select(CallAttempt)))
        assert states == ["answered", "cancelled"]
    assert ("unsubscribed", "") in _kinds(session_factory, action_id)


async def test_no_key_hears_goodbye_and_counts_as_reached(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, _ = _seed(session_factory)
    peer = await _call(
        session_factory, attempt_id, replies={"STREAM FILE": [PLAYED], "GET DATA": [TIMEOUT]}
    )
    assert set_variables(peer.commands)["MENU_CHOICE"] == "timeout"
    goodbye = peer.commands.index('STREAM FILE bnet/dag ""')
    assert peer.commands[goodbye + 1] == "SET VARIABLE MENU_CHOICE timeout"
    with session_factory() as s:
        assert s.scalars(select(ActionTarget.reached_by)).first() == "voice"


async def test_hangup_during_the_message_is_not_reached(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, action_id = _seed(session_factory)
    peer = await _call(session_factory, attempt_id, hangup_on="STREAM FILE")
    assert "MENU_CHOICE" not in set_variables(peer.commands)
    with session_factory() as s:
        assert all(t.reached_at is None for t in s.scalars(select(ActionTarget)))
    assert _kinds(session_factory, action_id) == []


async def test_attempt_found_by_uniqueid_without_agi_arg(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, _ = _seed(session_factory)
    peer = await _call(
        session_factory,
        attempt_id,
        with_arg=False,
        replies={"STREAM FILE": [PLAYED], "GET DATA": [["200 result=2"]]},
    )
    assert set_variables(peer.commands)["MENU_CHOICE"] == "2"


async def test_unknown_attempt_ends_politely(session_factory: sessionmaker[Session]) -> None:
    peer = await _call(session_factory, "no-such-attempt")
    assert peer.commands == ["GET VARIABLE MSG_FILE", "SET VARIABLE MENU_CHOICE none"]


async def test_missing_message_file_still_offers_the_menu(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, _ = _seed(session_factory)
    # transcript 08: STREAM FILE of a missing file -> 200 result=-1 endpos=0, channel alive
    peer = await _call(
        session_factory,
        attempt_id,
        replies={
            "STREAM FILE": [["200 result=-1 endpos=0"]],
            "CHANNEL STATUS": [["200 result=6"]],
            "GET DATA": [["200 result=2"]],
        },
    )
    assert set_variables(peer.commands)["MENU_CHOICE"] == "2"
    with session_factory() as s:
        assert all(t.reached_at is None for t in s.scalars(select(ActionTarget)))


async def test_message_of_the_channel_is_played(
    session_factory: sessionmaker[Session],
) -> None:
    attempt_id, _ = _seed(session_factory)
    # the dialer's Originate set MSG_FILE for this attempt (e.g. an update message)
    peer = await _call(
        session_factory,
        attempt_id,
        replies={
            "GET VARIABLE MSG_FILE": [["200 result=1 (/var/lib/bnet/sounds/update-1a2b)"]],
            "STREAM FILE": [["200 result=50 endpos=800"]],
        },
    )
    assert _plays(peer) == ["STREAM FILE /var/lib/bnet/sounds/update-1a2b 129"]
    assert peer.commands[-1] == "SET VARIABLE MENU_CHOICE 2"


@pytest.mark.parametrize("value", ["../../etc/passwd", "a b", "x;Hangup()", ""])
async def test_unsafe_channel_message_is_ignored(
    session_factory: sessionmaker[Session], value: str
) -> None:
    attempt_id, _ = _seed(session_factory)
    peer = await _call(
        session_factory,
        attempt_id,
        replies={
            "GET VARIABLE MSG_FILE": [[f"200 result=1 ({value})"]],
            "STREAM FILE": [["200 result=50 endpos=800"]],
        },
    )
    assert _plays(peer) == [f"STREAM FILE /var/lib/bnet/audio/{'ab' * 32} 129"]


@pytest.mark.parametrize(("purpose", "fallback_played"), [("alert", True), ("update", False)])
async def test_unplayable_channel_message_falls_back_only_for_alerts(
    session_factory: sessionmaker[Session], purpose: str, fallback_played: bool
) -> None:
    attempt_id, _ = _seed(session_factory)
    with session_factory() as s, s.begin():
        s.get(CallAttempt, attempt_id).purpose = purpose  # type: ignore[union-attr]
    peer = await _call(
        session_factory,
        attempt_id,
        replies={
            "GET VARIABLE MSG_FILE": [["200 result=1 (/var/lib/bnet/sounds/bnet-missing)"]],
            "STREAM FILE /var/lib/bnet/sounds/bnet-missing": [["200 result=-1 endpos=0"]],
            "CHANNEL STATUS": [["200 result=6"]],
            "STREAM FILE /var/lib/bnet/audio/": [PLAYED],
            "GET DATA": [TIMEOUT],
        },
    )
    alert = f"STREAM FILE /var/lib/bnet/audio/{'ab' * 32} 129"
    assert (alert in peer.commands) is fallback_played
    with session_factory() as s:
        target_id = s.get(CallAttempt, attempt_id).target_id  # type: ignore[union-attr]
        reached = s.get(ActionTarget, target_id).reached_at  # type: ignore[union-attr]
    assert (reached is not None) is fallback_played
