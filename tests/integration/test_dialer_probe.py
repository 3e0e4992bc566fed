"""``bnet probe`` against sipp phones from ../shared/asterisk/sipp: answer (with the message
played, what came back recorded and DTMF sent), busy, 404, 503, no answer."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from engine.embedded import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pjsua2,
    pytest.mark.skipif(
        importlib.util.find_spec("pjsua2") is None,
        reason="pjsua2 is not importable (optional extra: pip install pjsua2-python)",
    ),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]
REPO = Path(__file__).resolve().parents[2]


def tone(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10\x00\xf0" * int(4000 * seconds))
    return path


@pytest.mark.parametrize(
    ("scenario", "status", "answered"),
    [
        ("uas-answer.xml", 200, True),
        ("uas-busy.xml", 486, False),
        ("uas-404.xml", 404, False),
        ("uas-503.xml", 503, False),
        ("uas-noanswer.xml", 487, False),  # we give up ringing and CANCEL
    ],
)
def test_probe_reports_what_the_phone_did(
    shared_dir: Path, tmp_path: Path, scenario: str, status: int, answered: bool
) -> None:
    sip, media = free_port(), free_port()
    sipp = subprocess.Popen(
        ["sipp", "-sf", str(shared_dir / "asterisk" / "sipp" / scenario), "-i", "127.0.0.1",
         "-p", str(sip), "-mi", "127.0.0.1", "-mp", str(media), "-m", "1", "-aa",
         "-d", "300", "-nostdin"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        heard = tmp_path / "heard.wav"
        run = subprocess.run(
            [sys.executable, "-m", "engine.cli", "probe", f"sip:+31201234567@127.0.0.1:{sip}",
             "--ring-timeout", "2", "--hold", "1.5", "--play", str(tone(tmp_path / "m.wav")),
             "--record", str(heard), "--dtmf", "2", "--sip-port", str(free_port()),
             "--rtp-port", str(46000 + sip % 1000 * 2)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
    finally:
        sipp.terminate()
        sipp.wait(timeout=10)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == status and result["answered"] is answered
    if answered:
        assert result["setup_ms"] > 0 and result["dtmf_sent"] == "2"
        assert result["recorded_s"] and result["recorded_s"] > 1.0
        assert result["notes"] == ["playing m.wav"]


def test_probe_of_an_unknown_trunk_is_a_clear_error() -> None:
    run = subprocess.run([sys.executable, "-m", "engine.cli", "probe", "nosuchtrunk"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "no trunk named" in run.stderr
