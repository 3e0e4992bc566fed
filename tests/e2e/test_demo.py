"""End to end: the demo flow a user runs with ``scripts/demo``, asserted.

Real processes (API, dialer, SMS sender, FastAGI, RQ worker), a private Redis, SQLite and the
Asterisk/SMSC simulators; the centralist's client triggers an action over HTTP and follows it
over SSE until every call and SMS has an outcome, then closes it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_an_action_end_to_end(tmp_path: Path, shared_dir: Path) -> None:
    root = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "demo", "--root", str(root),
         "--participation", "0.01", "--radius", "1000", "--timeout", "90"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "400"},  # rich wraps at 80 columns without a terminal
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "same Idempotency-Key returned the same action: True" in out
    answered = re.search(r"outcome: (\d+) answered, (\d+) not reached, (\d+)/(\d+) SMS", out)
    assert answered, out[-2000:]
    n_answered, _not_reached, sms_ok, sms_total = map(int, answered.groups())
    assert n_answered > 0
    assert sms_total > 0 and sms_ok == sms_total
    assert "chain intact" in out
    # The dossier records the whole story: creation, the selection, calls, SMS and closing.
    kinds = re.search(r"dossier: \d+ entries: (\{.*\})", out)
    assert kinds, out[-2000:]
    for kind in ("created", "closed"):
        assert kind in kinds.group(1), kinds.group(1)
