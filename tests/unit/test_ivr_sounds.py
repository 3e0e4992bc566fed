"""Which files the IVR asks Asterisk to play."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.models import Action
from engine.ivr.sounds import IvrSounds, message_sound, prompt_sounds, sounds_from
from engine.tts.settings import TtsSettings

SHA = "ab" * 32


def test_message_from_cache_or_shared_sounds_dir(tmp_path: Path) -> None:
    action = Action(id="a1", audio_hash=SHA)
    cached = message_sound(TtsSettings(cache_dir=tmp_path / "cache"))(action)
    assert cached == str((tmp_path / "cache" / SHA).resolve())
    shared = TtsSettings(cache_dir=tmp_path / "cache", asterisk_sounds_dir=tmp_path / "ast")
    assert message_sound(shared)(action) == str((tmp_path / "ast" / f"bnet-{SHA}").resolve())


def test_action_without_rendered_message_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LookupError):
        message_sound(TtsSettings(cache_dir=tmp_path))(Action(id="a2", audio_hash=None))


def test_unrendered_prompts_fall_back_to_stable_names(tmp_path: Path) -> None:
    settings = TtsSettings(cache_dir=tmp_path / "empty", asterisk_sounds_dir=tmp_path / "ast")
    assert prompt_sounds(settings, "0800-0011") == IvrSounds()


def test_installed_prompt_is_used(tmp_path: Path) -> None:
    menu = tmp_path / "ast" / "bnet" / "menu.wav"
    menu.parent.mkdir(parents=True)
    menu.write_bytes(b"RIFF")
    settings = TtsSettings(cache_dir=tmp_path / "c", asterisk_sounds_dir=tmp_path / "ast")
    assert prompt_sounds(settings, "0800-0011").menu == str(menu.resolve().with_suffix(""))


def test_sounds_from_resolver() -> None:
    sounds = sounds_from(lambda pid: f"/x/{pid}" if pid == "goodbye" else None)
    assert sounds.goodbye == "/x/goodbye" and sounds.menu == IvrSounds().menu
