"""Names of the sounds the IVR plays (Asterisk sound names or absolute paths without extension).

The texts live in ``prompts/`` and are rendered by the speech feature; the IVR only needs the
file names.  They are passed in explicitly so the dialplan, the renderer and the IVR agree on
one place (the CLI builds them from the TTS settings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.actions.models import Action
    from engine.tts.settings import TtsSettings

#: Prompt ids in ``prompts/`` that the IVR plays.
PROMPT_IDS = ("menu", "no_active_action", "unsubscribed", "goodbye")


@dataclass(frozen=True)
class IvrSounds:
    #: "druk 1 om het bericht te herhalen, druk 2 ... druk 9 ..."
    menu: str = "bnet/menu"
    #: "er is op dit moment geen actieve Burgernetactie; bel bij spoed 112"
    no_active_action: str = "bnet/no_active_action"
    #: confirmation after 9 (prompts/unsubscribe_confirmation.txt)
    unsubscribed: str = "bnet/unsubscribe_confirmation"
    #: after the menu timed out; None: end without a word
    goodbye: str | None = "bnet/goodbye"


def sounds_from(resolve: Callable[[str], str | None]) -> IvrSounds:
    """Build the sound names from a resolver ``prompt id -> sound name`` (None: keep default)."""
    defaults = IvrSounds()
    values = {pid: resolve(pid) or getattr(defaults, pid) for pid in PROMPT_IDS}
    return IvrSounds(**values)


def prompt_sounds(tts: TtsSettings, callback_number: str) -> IvrSounds:
    """The rendered prompts (``bnet prompts render``); defaults where one is not rendered yet."""
    from engine.tts.prompt_audio import prompt_sound_name

    return sounds_from(lambda pid: prompt_sound_name(pid, tts, callback_number))


def message_sound(tts: TtsSettings) -> Callable[[Action], str]:
    """``sound_for_action`` for the menu: where the speech feature put the action's message."""
    from engine.tts.cache import cache_path
    from engine.tts.delivery import SOUND_PREFIX, playback_name

    def sound_for_action(action: Action) -> str:
        if not action.audio_hash:
            raise LookupError(f"action {action.id} has no rendered message")
        if tts.asterisk_sounds_dir is not None:
            shared = tts.asterisk_sounds_dir / f"{SOUND_PREFIX}{action.audio_hash}.wav"
            return playback_name(shared)
        return playback_name(cache_path(tts.cache_dir, action.audio_hash))

    return sound_for_action
