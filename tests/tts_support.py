"""Shared helpers for the speech tests: settings on a temp cache, WAV inspection, CLI runner."""

from __future__ import annotations

import argparse
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import CliError
from engine.tts.settings import TtsSettings

if TYPE_CHECKING:
    from engine.config import Settings

# Heavy imports (settings, CLI) stay inside functions: spawned test processes import this module.

#: About 40 seconds of speech at 150 words per minute (used by tests and bench/tts.py).
SIGNALEMENT = (
    "De politie is op zoek naar een man die om 14:05 uur een overval heeft gepleegd op een "
    "supermarkt aan de Hoofdstraat in Apeldoorn. Het gaat om een m., ca. 30 jr., 1,80 m lang, "
    "slank postuur, kort donker haar en een baardje. Hij droeg een zwarte jas met capuchon, "
    "een blauwe spijkerbroek en witte sportschoenen. Hij heeft ongeveer € 250 buitgemaakt. "
    "Hij is gevlucht op een donkergrijze scooter met kenteken DRT-12-K in de richting van "
    "het station, met een snelheid van ca. 40 km/u. Mogelijk heeft hij een rugzak bij zich. "
    "Benader de man niet zelf, maar bel direct 112."
)


def tts_settings(tmp_path: Path, **overrides: object) -> TtsSettings:
    return TtsSettings(cache_dir=tmp_path / "cache", **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class WavInfo:
    rate: int
    channels: int
    sample_width: int
    duration_s: float
    rms: float


def wav_info(path: Path) -> WavInfo:
    with wave.open(str(path), "rb") as src:
        frames = src.readframes(src.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
        return WavInfo(
            rate=src.getframerate(),
            channels=src.getnchannels(),
            sample_width=src.getsampwidth(),
            duration_s=src.getnframes() / src.getframerate(),
            rms=float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0,
        )


def run_cli(argv: Sequence[str], settings: Settings) -> tuple[int, str]:
    """Run a ``bnet tts|prompts`` command the way ``engine.cli.main`` does, without the
    other features' subcommands; returns (exit code, error line)."""
    from engine.tts import cli as tts_cli

    parser = argparse.ArgumentParser(prog="bnet")
    tts_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return args.handler(args, settings), ""
    except CliError as exc:
        return 2, str(exc)


def slow_espeak(folder: Path, delay_s: float = 0.3) -> tuple[Path, Path]:
    """An espeak-ng wrapper that waits, then logs each start: (script, log of starts).

    Makes concurrent renders overlap for sure, and counts how many really synthesised.
    """
    log = folder / "espeak-starts.log"
    script = folder / "slow-espeak-ng"
    script.write_text(
        "#!/bin/sh\n"
        f"echo start >> '{log}'\n"
        f"sleep {delay_s}\n"
        'exec espeak-ng "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, log


def fake_piper(folder: Path) -> Path:
    """A stand-in for the piper CLI: reads text on stdin, writes a 22.05 kHz WAV (via espeak)."""
    script = folder / "fake-piper"
    script.write_text(
        "#!/bin/sh\n"
        '# usage: fake-piper --model M --output_file OUT  (text on stdin)\n'
        'while [ $# -gt 0 ]; do case "$1" in --output_file) out="$2"; shift;; esac; shift; done\n'
        'exec espeak-ng -v nl -b 1 -w "$out"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def render_in_subprocess(
    text: str, cache_dir: str, espeak_binary: str, gate: str
) -> tuple[str, bool]:
    """Entry point for the multi-process cache test (must be importable by spawn).

    Announces itself in ``gate`` and waits for ``gate/go`` so all processes render at once.
    """
    import os
    import time

    from engine.tts.render import render

    Path(gate, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 30
    while not Path(gate, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    settings = TtsSettings(cache_dir=Path(cache_dir), espeak_binary=espeak_binary)
    rendered = render(text, settings)
    return rendered.sha256, rendered.cached


def release_when_ready(gate: Path, count: int, timeout_s: float = 30) -> None:
    """Open the gate of :func:`render_in_subprocess` once ``count`` processes wait at it."""
    import time

    deadline = time.monotonic() + timeout_s
    while len(list(gate.glob("ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    (gate / "go").touch()
