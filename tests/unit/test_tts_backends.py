"""Backend choice and the errors of backends that cannot run (no synthesis needed)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from engine.tts.backends import EspeakBackend, GttsBackend, PiperBackend, get_backend
from engine.tts.errors import TtsBackendUnavailable, TtsInputError
from engine.tts.render import audio_hash
from engine.tts.settings import TtsSettings


def test_backend_comes_from_settings_with_per_call_override() -> None:
    settings = TtsSettings(backend="espeak")
    assert isinstance(get_backend(settings), EspeakBackend)
    assert isinstance(get_backend(settings, "gtts"), GttsBackend)
    assert isinstance(get_backend(TtsSettings(backend="piper")), PiperBackend)


def test_unknown_backend_is_an_input_error() -> None:
    with pytest.raises(TtsInputError, match="unknown tts backend 'festival'") as info:
        get_backend(TtsSettings(), "festival")
    assert info.value.code == "tts_unknown_backend"


def test_piper_without_model_says_which_setting_to_set() -> None:
    with pytest.raises(TtsBackendUnavailable, match=r"tts\.piper_model"):
        PiperBackend(TtsSettings()).synthesize("hallo")


def test_piper_with_missing_model_file_names_it(tmp_path: Path) -> None:
    model = tmp_path / "nl_NL-mls-medium.onnx"
    with pytest.raises(TtsBackendUnavailable, match=r"voice model not found: .*nl_NL-mls"):
        PiperBackend(TtsSettings(piper_model=model)).synthesize("hallo")


def test_piper_not_installed_names_the_extra(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"onnx")
    settings = TtsSettings(piper_model=model, piper_binary="bnet-no-such-piper")
    with pytest.raises(TtsBackendUnavailable, match=r"burgernet-engine\[piper\]"):
        PiperBackend(settings).synthesize("hallo")


def test_gtts_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gtts", None)  # makes `import gtts` fail
    with pytest.raises(TtsBackendUnavailable, match=r"burgernet-engine\[gtts\]"):
        GttsBackend(TtsSettings()).synthesize("hallo")


def test_gtts_offline_is_a_clear_error_and_warns_text_leaves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = types.ModuleType("gtts")

    class GTTSError(Exception):
        pass

    class FakeGtts:
        def __init__(self, text: str, lang: str):
            pass

        def write_to_fp(self, fp: object) -> None:
            raise GTTSError("Connection error during token calculation")

    fake.gTTS = FakeGtts  # type: ignore[attr-defined]
    fake.gTTSError = GTTSError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gtts", fake)
    with pytest.raises(TtsBackendUnavailable, match="needs internet access"):
        GttsBackend(TtsSettings()).synthesize("hallo")
    assert "sent to Google" in caplog.text


def test_hash_changes_with_what_the_caller_hears() -> None:
    base = TtsSettings()
    text = "Gezocht: een man van ca. 30 jr."
    h = audio_hash(text, base)
    assert len(h) == 64 and h == audio_hash(text, base)
    assert h == audio_hash("Gezocht:  een man van circa 30 jaar", base)  # same spoken text
    assert h != audio_hash(text + " Nu.", base)
    assert h != audio_hash(text, TtsSettings(voice="nl+f3"))
    assert h != audio_hash(text, TtsSettings(speed_wpm=170))
    assert h != audio_hash(text, TtsSettings(loudness_dbfs=-16))
    assert h != audio_hash(text, base, backend="gtts")
    # Where the cache lives does not change the audio.
    assert h == audio_hash(text, TtsSettings(cache_dir=Path("/elsewhere")))
