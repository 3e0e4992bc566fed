"""How Asterisk reaches a rendered file: a shared sounds directory or an HTTP media URL.

See ``asterisk/MEDIA.md``. A local file avoids the download during the call (the caller hears
silence while Asterisk fetches a URL); the URL serves multi-node setups.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from engine.tts.cache import mark_used, write_atomically
from engine.tts.settings import TtsSettings

if TYPE_CHECKING:  # render imports this module to install what it renders
    from engine.tts.render import RenderedAudio

MEDIA_PREFIX = "/media"
#: File name prefix in a shared sounds directory (keeps our files apart from Asterisk's).
SOUND_PREFIX = "bnet-"


def playback_name(path: Path) -> str:
    """What ``Playback()``/``MSG_FILE`` takes: the absolute path without its extension."""
    return str(path.resolve().with_suffix(""))


def media_path(sha256: str) -> str:
    return f"{MEDIA_PREFIX}/{sha256}.wav"


def media_url(public_base_url: str, sha256: str) -> str:
    """URL for ``Playback(http://...)``; the 64-hex hash keeps it long (asterisk#444)."""
    return public_base_url.rstrip("/") + media_path(sha256)


def install_for_asterisk(rendered: RenderedAudio, settings: TtsSettings) -> str:
    """Put the file into ``asterisk_sounds_dir`` (if set) and return its Playback name.

    Hard link when the directories share a file system, else an atomic copy. Without a
    shared directory the cache file itself is the Playback target (same box, same path).
    """
    if settings.asterisk_sounds_dir is None:
        return playback_name(rendered.path)
    target = settings.asterisk_sounds_dir / f"{SOUND_PREFIX}{rendered.sha256}.wav"
    if target.is_file():
        mark_used(target)  # a copy (not a link) must not look unused to prune
    else:
        write_atomically(target, lambda tmp: link_or_copy(rendered.path, tmp))
    return playback_name(target)


def link_or_copy(source: Path, tmp: Path) -> None:
    tmp.unlink()
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
