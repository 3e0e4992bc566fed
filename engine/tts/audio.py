"""Telephone audio: conversion to 8 kHz mono 16-bit, loudness, WAV files.

sox is preferred: it starts in a few milliseconds, ffmpeg in ~100 ms or more, which is most of
a cold render. Conversion runs on pipes (no temporary files).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from engine.tts.backends import Speech, StreamCommand, run_tool
from engine.tts.errors import TtsBackendUnavailable, TtsRenderFailed

SAMPLE_RATE = 8000
Samples = npt.NDArray[np.int16]

_PEAK_LIMIT = 10 ** (-1.0 / 20)  # -1 dBFS: headroom for the G.711 encoder
_FRAME = SAMPLE_RATE // 50  # 20 ms
_GATE_DB = -40.0  # frames this far under the loudest one are pauses, not speech
_PIPE_TIMEOUT_S = 60


def pick_converter(preference: str) -> str:
    """"sox" or "ffmpeg" for "auto" (sox first), or the one asked for if it is installed."""
    candidates = ["sox", "ffmpeg"] if preference == "auto" else [preference]
    for name in candidates:
        if shutil.which(name):
            return name
    raise TtsBackendUnavailable(
        f"no audio converter found ({' or '.join(candidates)}); install the sox package"
    )


def _converter_args(speech_fmt: str, converter: str) -> list[str]:
    # sox on Debian cannot read mp3 (gTTS): ffmpeg is required for it.
    tool = pick_converter(converter if speech_fmt == "wav" else "ffmpeg")
    if tool == "sox":
        return [tool, "-q", "-t", "wav", "-",
                "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                "-e", "signed-integer", "-L", "-"]  # fmt: skip
    return [tool, "-nostdin", "-loglevel", "error", "-f", speech_fmt, "-i", "pipe:0",
            "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]  # fmt: skip


def _samples(raw: bytes) -> Samples:
    if len(raw) < 2:
        raise TtsRenderFailed("the converter produced no audio")
    return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)


def to_telephone_pcm(speech: Speech, converter: str) -> Samples:
    """Decode any backend output to 8 kHz mono signed 16-bit samples."""
    args = _converter_args(speech.fmt, converter)
    return _samples(run_tool(args, speech.data, args[0]))


def piped_to_telephone_pcm(command: StreamCommand, converter: str) -> Samples:
    """Run ``synthesiser | converter`` as one OS pipeline: conversion overlaps synthesis."""
    conv_args = _converter_args(command.fmt, converter)
    try:
        synth = subprocess.Popen(command.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)  # fmt: skip
    except OSError as exc:
        raise TtsBackendUnavailable(f"{command.args[0]} could not be started: {exc}") from exc
    with synth:
        assert synth.stdout is not None and synth.stdin is not None
        conv = subprocess.Popen(conv_args, stdin=synth.stdout, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        synth.stdout.close()  # the converter owns the read end now
        # Feed stdin from a thread: with a long text all three pipes could fill up at once.
        feeder = threading.Thread(target=_feed, args=(synth.stdin, command.stdin), daemon=True)
        feeder.start()
        try:
            raw, conv_err = conv.communicate(timeout=_PIPE_TIMEOUT_S)
            synth.wait(timeout=_PIPE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            conv.kill()
            synth.kill()
            raise TtsRenderFailed(f"rendering took longer than {_PIPE_TIMEOUT_S} s") from exc
        feeder.join()
        synth_err = synth.stderr.read() if synth.stderr else b""
    _check_exit(command.args[0], synth.returncode, synth_err)
    _check_exit(conv_args[0], conv.returncode, conv_err)
    return _samples(raw)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except BrokenPipeError:
        pass  # the synthesiser died; its exit status tells why
    finally:
        with contextlib.suppress(BrokenPipeError):
            pipe.close()


def _check_exit(tool: str, code: int, stderr: bytes) -> None:
    if code != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise TtsRenderFailed(f"{Path(tool).name} failed (exit {code}): {last[0]}")


def speech_rms(samples: Samples) -> float:
    """RMS of the speech only: 20 ms frames under the gate (pauses) do not count."""
    return _speech_rms(samples.astype(np.float32))


def _speech_rms(x: npt.NDArray[np.float32]) -> float:
    usable = len(x) // _FRAME * _FRAME
    if usable == 0:
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    frames = x[:usable].reshape(-1, _FRAME)
    frame_power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / _FRAME
    loudest = float(frame_power.max())
    if loudest == 0.0:
        return 0.0
    active = frame_power[frame_power >= loudest * 10 ** (2 * _GATE_DB / 20)]
    return float(np.sqrt(active.mean()))


def normalize_loudness(samples: Samples, target_dbfs: float) -> Samples:
    """Scale speech to ``target_dbfs`` RMS, never letting peaks exceed -1 dBFS."""
    x = samples.astype(np.float32)
    rms = _speech_rms(x)
    if rms < 1.0:
        raise TtsRenderFailed("the backend produced silence")
    full_scale = 32767.0
    gain = full_scale * 10 ** (target_dbfs / 20) / rms
    peak = float(np.abs(x).max())
    gain = min(gain, full_scale * _PEAK_LIMIT / peak)
    x *= np.float32(gain)
    np.rint(x, out=x)
    np.clip(x, -32768, 32767, out=x)
    return x.astype(np.int16)


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
