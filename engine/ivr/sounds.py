"""Names of the sounds the IVR plays (Asterisk sound names or absolute paths without extension).

The texts live in ``prompts/`` and are rendered by the speech feature; the IVR only needs the
file names.  They are passed in explicitly so the dialplan, the renderer and the IVR agree on
one place (the CLI builds them from the TTS settings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Prompt ids in ``prompts/`` that the IVR plays.
PROMPT_IDS = ("menu", "no_active_action", "unsubscribed", "goodbye")


@dataclass(frozen=True)
class IvrSounds:
    #: "druk 1 om het bericht te herhalen, druk 2 ... druk 9 ..."
    menu: str = "bnet/menu"
    #: "er is op dit moment geen actieve Burgernetactie; bel bij spoed 112"
    no_active_action: str = "bnet/no_active_action"
    #: confirmation after 9
    unsubscribed: str = "bnet/unsubscribed"
    #: after the menu timed out; None: end without a word
    goodbye: str | None = "bnet/goodbye"


def sounds_from(resolve: Callable[[str], str | None]) -> IvrSounds:
    """Build the sound names from a resolver ``prompt id -> sound name`` (None: keep default)."""
    defaults = IvrSounds()
    values = {pid: resolve(pid) or getattr(defaults, pid) for pid in PROMPT_IDS}
    return IvrSounds(**values)
