"""The fixed Dutch prompts in ``prompts/<name>.txt`` (UTF-8, ``str.format`` placeholders).

The folder is found relative to the repository root, which is also where an editable install
(``pip install -e .``) leaves it; ``tts.prompts_dir`` points elsewhere for other installs.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from engine.errors import NotFound

#: Voice prompts the IVR and the dialer play (rendered by ``bnet prompts render``).
VOICE_PROMPTS: tuple[str, ...] = (
    "intro", "message_closing", "menu", "menu_invalid", "callback_greeting", "queue_hold",
    "no_active_action", "outcome", "update", "unsubscribe_confirmation", "goodbye",
)  # fmt: skip
#: SMS templates (GSM-7 text, never synthesised).
SMS_PROMPTS: tuple[str, ...] = (
    "sms_alert", "sms_update", "sms_outcome", "sms_stop_confirmation",
)  # fmt: skip
PROMPT_NAMES: tuple[str, ...] = VOICE_PROMPTS + SMS_PROMPTS
#: Other names in use for the same prompt (the IVR says "unsubscribed").
ALIASES: dict[str, str] = {"unsubscribed": "unsubscribe_confirmation"}

_NAME_RE = re.compile(r"[a-z0-9_]{1,64}")
_REPO_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


class PromptNotFound(NotFound, KeyError):
    code = "prompt_not_found"

    def __str__(self) -> str:
        return self.message


def prompts_dir(configured: Path | None = None) -> Path:
    folder = configured or _REPO_PROMPTS
    if not folder.is_dir():
        raise PromptNotFound(f"prompts folder not found: {folder} (set tts.prompts_dir)")
    return folder


def prompt_path(name: str, folder: Path | None = None) -> Path:
    name = ALIASES.get(name, name)
    if not _NAME_RE.fullmatch(name):
        raise PromptNotFound(f"invalid prompt name {name!r}")
    path = prompts_dir(folder) / f"{name}.txt"
    if not path.is_file():
        raise PromptNotFound(f"no prompt {name!r} in {path.parent}")
    return path


def load_prompt(name: str, folder: Path | None = None) -> str:
    """The prompt text with its placeholders, surrounding whitespace removed."""
    return prompt_path(name, folder).read_text(encoding="utf-8").strip()


def available_prompts(folder: Path | None = None) -> list[str]:
    """Every prompt in the folder, including other features' templates (``action_*``)."""
    return sorted(p.stem for p in prompts_dir(folder).glob("*.txt") if _NAME_RE.fullmatch(p.stem))


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}
