"""``bnet ivr run`` as a process: a callback caller is linked and the progress stream hears it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.ivr_support import (
    PeerScript,
    add_action,
    add_participant,
    add_target,
    inbound_env,
    run_peer,
    set_variables,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_bnet_ivr_run_serves_callback_and_publishes_progress(
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    with session_factory() as s, s.begin():
        person = add_participant(s, "+31612345678")
        action = add_action(s)
        add_target(s, action, "+31612345678", person)
        action_id = action.id
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"bnet:progress:{action_id}")
    port = _free_port()
    env = os.environ | {
        "BNET_STORE__URL": sqlite_url,
        "BNET_REDIS__URL": redis_url,
        "BNET_TTS__CACHE_DIR": str(tmp_path / "sounds"),
    }
    command = [sys.executable, "-m", "engine.cli", "ivr", "run", "--port", str(port)]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert "FastAGI on" in proc.stdout.readline()
            peer = await run_peer(port, PeerScript(inbound_env("0612345678")))
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    variables = set_variables(peer.commands)
    assert (variables["QUEUE_PRIO"], variables["BNET_ACTION_ID"]) == ("10", action_id)
    messages = []
    while not messages and (msg := pubsub.get_message(timeout=5)) is not None:
        if msg["type"] == "message":
            messages.append(json.loads(msg["data"]))
    assert messages and messages[0]["kind"] == "inbound_call"
    pubsub.close()
