"""Shared helpers for the speech tests: settings on a temp cache, WAV inspection, CLI runner."""

from __future__ import annotations

import argparse
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import Settings
from engine.errors import CliError
from engine.tts import cli as tts_cli
from engine.tts.settings import TtsSettings

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
    parser = argparse.ArgumentParser(prog="bnet")
    tts_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return args.handler(args, settings), ""
    except CliError as exc:
        return 2, str(exc)
