"""Render Dutch text to a cached telephone WAV: check, normalise, synthesise, convert.

The cache key covers everything that changes what the caller hears: the spoken (normalised)
text, the backend and its voice settings, and the output pipeline. Same key, same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.tts import audio
from engine.tts.backends import SpeechBackend, get_backend
from engine.tts.cache import get_or_create
from engine.tts.delivery import install_for_asterisk
from engine.tts.errors import TtsInputError
from engine.tts.normalize import normalize_dutch
from engine.tts.pipeline import synthesize_pcm
from engine.tts.settings import TtsSettings
from engine.tts.textcheck import check_text

#: Bump when the pipeline changes the audio for the same inputs (normalization rules, format).
PIPELINE_VERSION = 1


@dataclass(frozen=True)
class RenderedAudio:
    path: Path
    sha256: str
    duration_s: float
    cached: bool


def spoken_text(text: str, settings: TtsSettings) -> str:
    """The text exactly as the voice will get it (raises TtsInputError for bad input)."""
    return normalize_dutch(check_text(text, max_chars=settings.max_text_chars))


def _key(parts: dict[str, object]) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _speech_key(spoken: str, backend: SpeechBackend, settings: TtsSettings) -> str:
    return _key({
        "v": PIPELINE_VERSION, "rate": audio.SAMPLE_RATE, "loudness": settings.loudness_dbfs,
        "backend": backend.identity(), "text": spoken,
    })  # fmt: skip


def audio_hash(text: str, settings: TtsSettings, backend: str | None = None) -> str:
    """The content hash ``render`` would use for ``text`` (no rendering)."""
    chosen = get_backend(settings, backend)
    return _speech_key(spoken_text(text, settings), chosen, settings)


def render(
    text: str, settings: TtsSettings, backend: str | None = None, *, install: bool = True
) -> RenderedAudio:
    """Render ``text`` once to ``<cache_dir>/<sha256>.wav`` (8 kHz mono 16-bit, normalised).

    With ``tts.asterisk_sounds_dir`` set (and ``install``), the file is also put there as
    ``bnet-<sha256>.wav`` (:func:`engine.tts.delivery.install_for_asterisk`), so Asterisk can
    play it at once.
    """
    rendered = _render_one(text, settings, backend)
    if install:
        install_for_asterisk(rendered, settings)
    return rendered


def _render_one(text: str, settings: TtsSettings, backend: str | None) -> RenderedAudio:
    chosen = get_backend(settings, backend)
    spoken = spoken_text(text, settings)
    sha = _speech_key(spoken, chosen, settings)

    def write(tmp: Path) -> None:
        pcm = synthesize_pcm(chosen, spoken, settings)
        audio.write_wav(tmp, audio.normalize_loudness(pcm, settings.loudness_dbfs))

    return _result(*get_or_create(settings.cache_dir, sha, write), sha)


def render_parts(
    texts: Sequence[str], settings: TtsSettings, backend: str | None = None
) -> RenderedAudio:
    """One file of several parts (intro, message, menu) with a short pause between them.

    Each part is rendered (and cached) on its own, so the fixed intro and menu are synthesised
    once for all actions; only the joined file is new per message.
    """
    if not texts:
        raise TtsInputError("nothing to render: no parts given", code="tts_empty_text")
    parts = [_render_one(text, settings, backend) for text in texts]
    sha = _key({"v": PIPELINE_VERSION, "concat": [p.sha256 for p in parts],
                "pause_ms": settings.part_pause_ms})  # fmt: skip

    def write(tmp: Path) -> None:
        pause = audio.silence(settings.part_pause_ms)
        pieces = []
        for index, part in enumerate(parts):
            if index:
                pieces.append(pause)
            pieces.append(audio.read_wav(part.path))
        audio.write_wav(tmp, np.concatenate(pieces))

    joined = _result(*get_or_create(settings.cache_dir, sha, write), sha)
    install_for_asterisk(joined, settings)
    return joined


def _result(path: Path, cached: bool, sha: str) -> RenderedAudio:
    return RenderedAudio(path=path, sha256=sha, duration_s=audio.wav_duration_s(path),
                         cached=cached)  # fmt: skip
