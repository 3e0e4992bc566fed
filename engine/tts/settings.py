"""Speech settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TtsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["espeak", "piper", "gtts"] = "espeak"
    voice: str = "nl"
    speed_wpm: int = Field(default=150, ge=80, le=300)
    piper_model: Path | None = None
    cache_dir: Path = Path("var/sounds")
    #: Directory shared with Asterisk (single box); None = only the HTTP media URL.
    asterisk_sounds_dir: Path | None = None
