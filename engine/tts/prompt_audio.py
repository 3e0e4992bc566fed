"""Rendering the fixed voice prompts and giving the IVR their Playback names."""

from __future__ import annotations

import os

from engine.tts.cache import cache_path, write_atomically
from engine.tts.delivery import link_or_copy, playback_name
from engine.tts.prompts import (
    ALIASES,
    SMS_PROMPTS,
    available_prompts,
    load_prompt,
    placeholders,
)
from engine.tts.render import RenderedAudio, audio_hash, render
from engine.tts.settings import TtsSettings
from engine.tts.words_nl import speak_phone_number

#: Placeholders a fixed prompt may have and that rendering can fill on its own.
_FILLABLE = frozenset({"callback", "callback_spoken"})
#: Sub-folder of ``asterisk_sounds_dir`` for prompts: Playback name ``bnet/<prompt>``.
PROMPT_SOUND_DIR = "bnet"


def renderable_prompts(settings: TtsSettings) -> list[str]:
    """Voice prompts that need nothing from an action (templates with other fields skipped)."""
    names = []
    for name in available_prompts(settings.prompts_dir):
        if name in SMS_PROMPTS or "sms" in name or "email" in name:
            continue
        if not placeholders(load_prompt(name, settings.prompts_dir)) - _FILLABLE:
            names.append(name)
    return names


def prompt_text(name: str, settings: TtsSettings, callback_number: str) -> str:
    """The prompt as spoken: ``{callback}`` becomes the number read in digit groups."""
    template = load_prompt(name, settings.prompts_dir)
    spoken_number = speak_phone_number(callback_number)
    return template.format(callback=spoken_number, callback_spoken=spoken_number)


def render_prompt(name: str, settings: TtsSettings, callback_number: str) -> RenderedAudio:
    # Prompts are installed under their stable names by install_prompt, not by hash.
    return render(prompt_text(name, settings, callback_number), settings, install=False)


def install_prompt(name: str, rendered: RenderedAudio, settings: TtsSettings) -> str:
    """Copy a rendered prompt to ``<asterisk_sounds_dir>/bnet/<name>.wav``; its Playback name.

    The name is stable (the dialplan and IVR refer to it), so a changed text replaces the file
    atomically. Without a shared sounds directory the cache file is the target.
    """
    if settings.asterisk_sounds_dir is None:
        return playback_name(rendered.path)
    target = settings.asterisk_sounds_dir / PROMPT_SOUND_DIR / f"{name}.wav"
    if not (target.is_file() and os.path.samefile(target, rendered.path)):
        write_atomically(target, lambda tmp: link_or_copy(rendered.path, tmp))
    return playback_name(target)


def alias_names(name: str) -> list[str]:
    """Other names the same prompt is known by (installed too, e.g. ``bnet/unsubscribed``)."""
    return [alias for alias, canonical in ALIASES.items() if canonical == name]


def prompt_sound_name(name: str, settings: TtsSettings, callback_number: str) -> str | None:
    """Playback name of an already rendered prompt, or None (for ``ivr.sounds.sounds_from``).

    Never renders: the IVR asks this while a caller waits.
    """
    canonical = ALIASES.get(name, name)
    if settings.asterisk_sounds_dir is not None:
        installed = settings.asterisk_sounds_dir / PROMPT_SOUND_DIR / f"{canonical}.wav"
        return playback_name(installed) if installed.is_file() else None
    try:
        sha = audio_hash(prompt_text(canonical, settings, callback_number), settings)
    except KeyError:
        return None
    path = cache_path(settings.cache_dir, sha)
    return playback_name(path) if path.is_file() else None
