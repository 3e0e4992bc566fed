"""From spoken text to telephone samples, as fast as the machine allows.

espeak-ng is the slow step (about 4 ms per second of speech). It restarts its intonation at
every sentence anyway, so a long message is cut at sentence ends into a few chunks that are
synthesised in parallel, each piped straight into the converter; the chunks joined give the
same audio as one run (each ends with espeak's own sentence pause).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.tts import audio
from engine.tts.backends import SpeechBackend
from engine.tts.settings import TtsSettings

#: Shorter texts are not worth a second process.
_PARALLEL_MIN_CHARS = 300
_MAX_CHUNKS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_sentences(text: str, chunks: int) -> list[str]:
    """At most ``chunks`` pieces of about equal length, cut only between sentences."""
    sentences = _SENTENCE_END.split(text)
    if chunks <= 1 or len(sentences) <= 1:
        return [text]
    target = len(text) / chunks
    pieces: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        current.append(sentence)
        if sum(len(s) for s in current) >= target and len(pieces) < chunks - 1:
            pieces.append(" ".join(current))
            current = []
    if current:
        pieces.append(" ".join(current))
    return pieces


def parallel_chunks(text: str) -> int:
    if len(text) < _PARALLEL_MIN_CHARS:
        return 1
    return max(1, min(_MAX_CHUNKS, os.cpu_count() or 1))


def synthesize_pcm(backend: SpeechBackend, spoken: str, settings: TtsSettings) -> audio.Samples:
    """8 kHz mono 16-bit samples of ``spoken`` (not yet loudness-normalised)."""
    if backend.stream_command(spoken) is None:
        return audio.to_telephone_pcm(backend.synthesize(spoken), settings.converter)
    pieces = split_sentences(spoken, parallel_chunks(spoken))
    if len(pieces) == 1:
        return _piped(backend, spoken, settings)
    with ThreadPoolExecutor(len(pieces)) as pool:
        parts = list(pool.map(lambda piece: _piped(backend, piece, settings), pieces))
    return np.concatenate(parts)


def _piped(backend: SpeechBackend, text: str, settings: TtsSettings) -> audio.Samples:
    command = backend.stream_command(text)
    assert command is not None
    return audio.piped_to_telephone_pcm(command, settings.converter)
