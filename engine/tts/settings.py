"""Speech settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BackendName = Literal["espeak", "piper", "gtts"]


class TtsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: BackendName = "espeak"
    voice: str = Field(default="nl", pattern=r"^[A-Za-z0-9_+\-]{1,40}$")
    speed_wpm: int = Field(default=150, ge=80, le=300)
    #: Executable names; found on PATH unless absolute.
    espeak_binary: str = "espeak-ng"
    piper_binary: str = "piper"
    #: Local piper voice file (``.onnx`` with its ``.onnx.json`` next to it).
    piper_model: Path | None = None
    #: Language for gTTS (online only: the text leaves the machine).
    gtts_lang: str = "nl"
    #: Converter to 8 kHz mono 16-bit: sox starts in ~5 ms, ffmpeg in ~100+ ms.
    converter: Literal["auto", "sox", "ffmpeg"] = "auto"
    #: RMS loudness of speech (dBFS) after normalisation; peaks are kept under -1 dBFS.
    loudness_dbfs: float = Field(default=-20.0, ge=-40.0, le=-6.0)
    #: Texts longer than this are refused (about 4 minutes of speech).
    max_text_chars: int = Field(default=4000, ge=100, le=100_000)
    #: Silence between concatenated parts (intro / message / menu).
    part_pause_ms: int = Field(default=400, ge=0, le=5000)
    cache_dir: Path = Path("var/sounds")
    #: Directory shared with Asterisk (single box); None = only the HTTP media URL.
    asterisk_sounds_dir: Path | None = None
    #: Cache-Control max-age of /media/<sha256>.wav (content-addressed, so it never changes).
    media_max_age_s: int = Field(default=86400, ge=0)
    #: Where the prompt texts live; None = ``prompts/`` at the repository root.
    prompts_dir: Path | None = None
