"""Telephone audio: conversion to 8 kHz mono 16-bit, loudness, WAV files.

sox is preferred: it starts in a few milliseconds, ffmpeg in ~100 ms or more, which is most of
a cold render. Conversion runs on pipes (no temporary files).
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.tts.backends import Speech, run_tool
from engine.tts.errors import TtsBackendUnavailable, TtsRenderFailed

SAMPLE_RATE = 8000
Samples = npt.NDArray[np.int16]

_PEAK_LIMIT = 10 ** (-1.0 / 20)  # -1 dBFS: headroom for the G.711 encoder
_FRAME = SAMPLE_RATE // 50  # 20 ms
_GATE_DB = -40.0  # frames this far under the loudest one are pauses, not speech


def pick_converter(preference: str) -> str:
    """"sox" or "ffmpeg" for "auto" (sox first), or the one asked for if it is installed."""
    candidates = ["sox", "ffmpeg"] if preference == "auto" else [preference]
    for name in candidates:
        if shutil.which(name):
            return name
    raise TtsBackendUnavailable(
        f"no audio converter found ({' or '.join(candidates)}); install the sox package"
    )


def to_telephone_pcm(speech: Speech, converter: str) -> Samples:
    """Decode any backend output to 8 kHz mono signed 16-bit samples."""
    # sox on Debian cannot read mp3 (gTTS): ffmpeg is required for it.
    tool = pick_converter(converter if speech.fmt == "wav" else "ffmpeg")
    if tool == "sox":
        args = [tool, "-q", "-t", "wav", "-",
                "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                "-e", "signed-integer", "-L", "-"]  # fmt: skip
    else:
        args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", speech.fmt, "-i", "pipe:0",
                "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]  # fmt: skip
    raw = run_tool(args, speech.data, args[0])
    if len(raw) < 2:
        raise TtsRenderFailed("the converter produced no audio")
    return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)


def speech_rms(samples: Samples) -> float:
    """RMS of the speech only: 20 ms frames under the gate (pauses) do not count."""
    usable = len(samples) // _FRAME * _FRAME
    if usable == 0:
        return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    frames = samples[:usable].astype(np.float64).reshape(-1, _FRAME)
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    loudest = float(frame_rms.max())
    if loudest == 0.0:
        return 0.0
    active = frames[frame_rms >= loudest * 10 ** (_GATE_DB / 20)]
    return float(np.sqrt(np.mean(active**2)))


def normalize_loudness(samples: Samples, target_dbfs: float) -> Samples:
    """Scale speech to ``target_dbfs`` RMS, never letting peaks exceed -1 dBFS."""
    rms = speech_rms(samples)
    if rms < 1.0:
        raise TtsRenderFailed("the backend produced silence")
    full_scale = 32767.0
    gain = full_scale * 10 ** (target_dbfs / 20) / rms
    peak = float(np.max(np.abs(samples.astype(np.float64))))
    gain = min(gain, full_scale * _PEAK_LIMIT / peak)
    scaled = np.round(samples.astype(np.float64) * gain)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def silence(ms: int) -> Samples:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def write_wav(path: Path, samples: Samples) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path) -> Samples:
    with wave.open(str(path), "rb") as src:
        if (src.getnchannels(), src.getsampwidth(), src.getframerate()) != (1, 2, SAMPLE_RATE):
            raise TtsRenderFailed(f"{path} is not 8 kHz mono 16-bit")
        return np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.int16)


def wav_duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as src:
        return src.getnframes() / src.getframerate()
