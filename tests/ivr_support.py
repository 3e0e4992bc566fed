"""Helpers for the IVR tests: recorded transcripts, a scripted Asterisk AGI peer, store rows."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.actions.models import Action, ActionTarget, CallAttempt
from engine.ivr.server import FastAgiServer, Route
from engine.participants.models import Participant, Phone
from engine.store.base import utcnow

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
AGI_FIXTURES = SHARED / "fixtures" / "agi"
TRANSCRIPTS = SHARED / "asterisk" / "transcripts"
_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \+\s*[\d.]+ (\S+)(?: (.*))?$")
DEAD_REPLY = "511 Command Not Permitted on a dead channel or intercept routine"
#: Commands res_agi still runs on a dead channel (fixtures/agi/sessions.json notes).
DEAD_SAFE = ("GET VARIABLE", "SET VARIABLE", "GET FULL VARIABLE", "NOOP", "VERBOSE")


def agi_fixture(name: str) -> Any:
    return json.loads((AGI_FIXTURES / name).read_text(encoding="utf-8"))


def transcript_lines(prefix: str) -> list[tuple[str, str]]:
    """(tag, text) of every stream line of transcript ``prefix`` ("08", "14", ...)."""
    (path,) = sorted(TRANSCRIPTS.glob(f"{prefix}-*.txt"))
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line)
        if match:
            text = match.group(2) or ""
            out.append((match.group(1), text.removesuffix(" [CRLF]")))
    return out


@dataclass
class RecordedAgi:
    """One FastAGI connection of a transcript: environment and command/reply exchanges."""

    env_text: str = ""
    exchanges: list[tuple[str, list[str]]] = field(default_factory=list)


def recorded_agi_sessions(prefix: str) -> list[RecordedAgi]:
    sessions: list[RecordedAgi] = []
    in_env = False
    for tag, text in transcript_lines(prefix):
        if tag == "NOTE" and "FastAGI connection" in text:
            sessions.append(RecordedAgi())
            in_env = True
        elif tag == "AGI<" and sessions and in_env:
            sessions[-1].env_text += text + "\n"
            in_env = text != ""
        elif tag == "AGI>" and sessions:
            sessions[-1].exchanges.append((text, []))
        elif tag == "AGI<" and sessions and sessions[-1].exchanges:
            sessions[-1].exchanges[-1][1].append(text)
    return sessions


def recorded_ami_events(prefix: str) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for tag, text in transcript_lines(prefix):
        if tag != "AMI<" or text.startswith("~~"):
            continue
        if text == "":
            if "Event" in current:
                events.append(current)
            current = {}
            continue
        name, _, value = text.partition(": ")
        current.setdefault(name, value)
    return events


# --- a scripted Asterisk on the other end of the FastAGI socket --------------------------


@dataclass
class PeerScript:
    """How the fake Asterisk answers, modelled on transcripts 08, 14 and 15.

    ``replies`` maps a command prefix to the reply lines for its successive uses (the last
    one repeats); anything else gets ``200 result=1``.  ``hangup_on`` makes the caller hang
    up during that command: ``200 result=-1``, then ``HANGUP``, then 511 for channel commands.
    """

    env: dict[str, str]
    replies: dict[str, list[list[str]]] = field(default_factory=dict)
    hangup_on: str | None = None
    silent_on: str | None = None
    commands: list[str] = field(default_factory=list)
    dead: bool = False

    def answer(self, command: str) -> list[str] | None:
        self.commands.append(command)
        if self.silent_on and command.startswith(self.silent_on):
            return None
        if self.dead:
            return ["200 result=1"] if command.startswith(DEAD_SAFE) else [DEAD_REPLY]
        if self.hangup_on and command.startswith(self.hangup_on):
            self.dead = True
            return ["200 result=-1", "HANGUP"]
        for prefix, answers in self.replies.items():
            if command.startswith(prefix):
                return answers.pop(0) if len(answers) > 1 else answers[0]
        return ["200 result=1"]


def env_block(values: dict[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\n" for k, v in values.items()) + "\n").encode()


async def run_peer(port: int, script: PeerScript, *, limit_s: float = 10.0) -> PeerScript:
    """Connect like Asterisk's AGI(), answer commands until the server closes the socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env_block(script.env))
    await writer.drain()
    try:
        async with asyncio.timeout(limit_s):
            while line := await reader.readline():
                lines = script.answer(line.decode().rstrip("\n"))
                if lines:
                    writer.write("".join(f"{x}\n" for x in lines).encode())
                    await writer.drain()
    finally:
        writer.close()
    return script


def inbound_env(callerid: str, uniqueid: str = "1795522167.13") -> dict[str, str]:
    """The environment of transcript 08 with another caller id."""
    return {
        "agi_network": "yes",
        "agi_network_script": "callback",
        "agi_request": "agi://127.0.0.1:14573/callback",
        "agi_channel": "PJSIP/caller-00000009",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1",
        "agi_callerid": callerid,
        "agi_calleridname": "Test Caller",
        "agi_dnid": "4930123456",
        "agi_context": "inbound-callback",
        "agi_extension": "4930123456",
        "agi_priority": "3",
        "agi_accountcode": "",
        "agi_arg_1": "4930123456",
    }


def menu_env(attempt_id: str, *, with_arg: bool = True) -> dict[str, str]:
    """The environment of transcript 15 (agi_uniqueid = Originate ChannelId)."""
    env = {
        "agi_network": "yes",
        "agi_network_script": "menu",
        "agi_request": "agi://127.0.0.1:14573/menu",
        "agi_channel": "PJSIP/trunk-00000000",
        "agi_uniqueid": attempt_id,
        "agi_version": "22.10.1",
        "agi_callerid": "4930123456",
        "agi_calleridname": "Engine",
        "agi_dnid": "unknown",
        "agi_context": "outbound-menu",
        "agi_extension": "s",
        "agi_priority": "5",
    }
    if with_arg:
        env["agi_arg_1"] = attempt_id
    return env


def set_variables(commands: Iterable[str]) -> dict[str, str]:
    """What the dialplan would see after these SET VARIABLE commands."""
    out: dict[str, str] = {}
    for command in commands:
        match = re.fullmatch(r'SET VARIABLE (\S+) (?:"((?:[^"\\]|\\.)*)"|(\S+))', command)
        if match:
            value = match.group(2) if match.group(2) is not None else match.group(3)
            out[match.group(1)] = re.sub(r"\\(.)", r"\1", value)
    return out


# --- store rows ---------------------------------------------------------------------------


def add_participant(session: Session, e164: str, *, status: str = "active") -> Participant:
    person = Participant(name="Test Deelnemer", status=status, consent_at=utcnow())
    person.phones.append(Phone(e164=e164, kind="mobile"))
    session.add(person)
    session.flush()
    return person


def add_action(
    session: Session, *, state: str = "running", ended_ago: timedelta | None = None
) -> Action:
    now = utcnow()
    action = Action(
        id=uuid.uuid4().hex,
        kind="suspect",
        state=state,
        region="oost-nederland",
        signalement="Man, rode jas, fiets",
        callback_number="0800-0011",
        lat=52.25,
        lon=6.16,
        area={"type": "circle", "radius_m": 2000},
        created_by="test",
        started_at=now - timedelta(hours=1),
        ended_at=(now - ended_ago) if ended_ago is not None else None,
        audio_hash="ab" * 32,
    )
    session.add(action)
    session.flush()
    return action


def add_target(
    session: Session,
    action: Action,
    e164: str,
    participant: Participant | None,
    *,
    reached_at: datetime | None = None,
) -> ActionTarget:
    target = ActionTarget(
        action_id=action.id,
        participant_id=participant.id if participant else None,
        e164=e164,
        phone_kind="mobile",
        channel="voice",
        distance_m=150.0,
        rank=1,
        reached_by="voice" if reached_at else None,
        reached_at=reached_at,
    )
    session.add(target)
    session.flush()
    return target


def add_attempt(
    session: Session, target: ActionTarget, *, state: str = "answered", attempt_no: int = 1
) -> CallAttempt:
    attempt = CallAttempt(
        id=str(uuid.uuid4()),
        action_id=target.action_id,
        target_id=target.id,
        e164=target.e164,
        attempt_no=attempt_no,
        rank=target.rank,
        priority=70,
        state=state,
    )
    session.add(attempt)
    session.flush()
    return attempt


@asynccontextmanager
async def serving(routes: dict[str, Route], **kwargs: Any) -> AsyncIterator[FastAgiServer]:
    """A FastAGI server on a free port for the duration of the block."""
    server = FastAgiServer(routes, host="127.0.0.1", port=0, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
