"""Loudness normalisation and WAV files (pure numpy, no synthesiser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.tts import audio
from engine.tts.errors import TtsRenderFailed
from tests.tts_support import wav_info


def _tone(amplitude: float, seconds: float = 1.0, pause_s: float = 0.0) -> audio.Samples:
    t = np.arange(int(audio.SAMPLE_RATE * seconds)) / audio.SAMPLE_RATE
    tone = amplitude * 32767 * np.sin(2 * np.pi * 440 * t)
    return np.concatenate([tone, np.zeros(int(audio.SAMPLE_RATE * pause_s))]).astype(np.int16)


def _dbfs(samples: audio.Samples) -> float:
    return 20 * np.log10(audio.speech_rms(samples) / 32767)


@pytest.mark.parametrize("amplitude", [0.01, 0.1, 0.9])
def test_quiet_and_loud_speech_end_at_the_same_loudness(amplitude: float) -> None:
    out = audio.normalize_loudness(_tone(amplitude), -20.0)
    assert _dbfs(out) == pytest.approx(-20.0, abs=0.2)


def test_pauses_do_not_make_speech_louder() -> None:
    # Half silence must not lift the speech by 3 dB: the gate ignores pauses.
    with_pauses = audio.normalize_loudness(_tone(0.1, 1.0, pause_s=1.0), -20.0)
    voiced = with_pauses[: audio.SAMPLE_RATE]
    assert 20 * np.log10(np.sqrt(np.mean(voiced.astype(float) ** 2)) / 32767) == pytest.approx(
        -20.0, abs=0.2
    )


def test_peaks_stay_under_minus_one_dbfs() -> None:
    spiky = _tone(0.01)
    spiky[100] = 32000  # one click would clip if gain followed RMS alone
    out = audio.normalize_loudness(spiky, -12.0)
    assert np.max(np.abs(out.astype(int))) <= int(32767 * 10 ** (-1 / 20)) + 1


def test_silence_is_a_render_failure() -> None:
    with pytest.raises(TtsRenderFailed, match="silence"):
        audio.normalize_loudness(np.zeros(8000, dtype=np.int16), -20.0)


def test_wav_round_trip_is_8khz_mono_16bit(tmp_path: Path) -> None:
    samples = _tone(0.3, 0.5)
    path = tmp_path / "x.wav"
    audio.write_wav(path, samples)
    info = wav_info(path)
    assert (info.rate, info.channels, info.sample_width) == (8000, 1, 2)
    assert info.duration_s == pytest.approx(0.5)
    assert np.array_equal(audio.read_wav(path), samples)
    assert audio.wav_duration_s(path) == pytest.approx(0.5)
