"""Dutch message composition: voice script, SMS, update and outcome texts.

The wording lives in ``prompts/action_*.txt`` (``str.format`` placeholders) so it can be
changed without touching code. Text a centralist types is checked here before it can reach a
TTS engine, an SMS field or an AMI variable.
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers

from engine.errors import InvalidInput

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
SIGNALEMENT_MAX = 800
OUTCOME_MAX = 400
_SPACE_RUNS = re.compile(r"[ \u00a0]{2,}")


class InvalidText(InvalidInput):
    code = "invalid_text"


class InvalidCallbackNumber(InvalidInput):
    code = "invalid_callback_number"


class SmsTooLong(InvalidInput):
    code = "sms_too_long"


@functools.lru_cache(maxsize=32)
def load_prompt(name: str) -> str:
    """A template from prompts/; the TTS feature's loader is used when it is installed."""
    try:
        module = importlib.import_module("engine.tts.prompts")
        text = str(module.load_prompt(name))
    except (ImportError, AttributeError, FileNotFoundError, KeyError):
        text = (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")
    return text.strip()


def clean_text(text: str, *, what: str, max_len: int, min_len: int = 1) -> str:
    """Trimmed text, or 422 ``invalid_text`` for control characters (CR/LF included)."""
    for pos, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs", "Cf") and ch != "\u200d":
            raise InvalidText(
                f"{what} contains a control character U+{ord(ch):04X} at position {pos}; "
                "use plain text on one line"
            )
    cleaned = _SPACE_RUNS.sub(" ", text.strip())
    if len(cleaned) < min_len:
        raise InvalidText(f"{what} is empty", code="text_empty")
    if len(cleaned) > max_len:
        raise InvalidText(f"{what} has {len(cleaned)} characters; at most {max_len}",
                          code="text_too_long")
    return cleaned


def check_callback_number(number: str) -> str:
    """The callback number as people dial it (national format), or 422."""
    if not re.fullmatch(r"\+?[0-9][0-9 \-]{2,18}", number or ""):
        raise InvalidCallbackNumber(f"callback number {number!r} is not a phone number")
    try:
        parsed = phonenumbers.parse(number, "NL")
    except phonenumbers.NumberParseException as exc:
        raise InvalidCallbackNumber(f"callback number {number!r}: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidCallbackNumber(f"callback number {number!r} is not a valid Dutch number")
    return number.strip()


def speak_number(number: str) -> str:
    """Digits read group by group ("0800-0011" → "0 8 0 0, 0 0 1 1") for the voice script."""
    try:
        module = importlib.import_module("engine.tts.normalize")
        return str(module.speak_phone_number(number))
    except (ImportError, AttributeError):
        groups = [g for g in re.split(r"[ \-]+", number.strip()) if g]
        return ", ".join(" ".join(g) for g in groups)


def local_clock(at: datetime) -> tuple[str, str]:
    """("14:05", "24-11-2026") in Dutch local time; naive datetimes are UTC (SQLite)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    local = aware.astimezone(LOCAL_TZ)
    return local.strftime("%H:%M"), local.strftime("%d-%m-%Y")


@dataclass(frozen=True)
class SmsPlan:
    text: str
    encoding: str
    segments: int
    max_segments: int
    warnings: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.segments <= self.max_segments


def plan_sms(text: str, max_segments: int) -> SmsPlan:
    """Segments and encoding of one SMS, with warnings the centralist sees before launch."""
    encoding, segments = _count(text)
    warnings = []
    if encoding == "ucs2":
        odd = sorted({ch for ch in text if not _is_gsm7(ch)})
        warnings.append(
            "tekens " + " ".join(odd[:8]) + " passen niet in GSM-7: het bericht gaat als UCS-2 "
            "(70 tekens per SMS, 67 per deel)"
        )
    if segments > max_segments:
        warnings.append(f"de SMS telt {segments} delen; het maximum is {max_segments}")
    return SmsPlan(text, encoding, segments, max_segments, warnings)


def _count(text: str) -> tuple[str, int]:
    from engine.smpp.encoding import count_segments

    info = count_segments(text)
    return info.encoding.lower(), info.segments


def _is_gsm7(ch: str) -> bool:
    from engine.smpp.encoding import is_gsm7

    return bool(is_gsm7(ch))


def voice_script(signalement: str, callback: str) -> str:
    return load_prompt("action_voice").format(
        signalement=_sentence(signalement), callback_spoken=speak_number(callback)
    )


def sms_text(signalement: str, callback: str) -> str:
    return load_prompt("action_sms").format(signalement=_sentence(signalement), callback=callback)


def update_texts(text: str, *, started: datetime, place: str, callback: str) -> tuple[str, str]:
    """(voice, sms) for an update to everyone already reached."""
    time, _ = local_clock(started)
    values = {"time": time, "place": place or "uw buurt", "text": _sentence(text),
              "callback": callback, "callback_spoken": speak_number(callback)}
    return (load_prompt("action_update_voice").format(**values),
            load_prompt("action_update_sms").format(**values))


def outcome_text(outcome: str, *, started: datetime, place: str) -> str:
    time, _ = local_clock(started)
    return load_prompt("action_outcome").format(
        time=time, place=place or "uw buurt", outcome=_sentence(outcome)
    )


def outcome_email(
    outcome: str, *, story: str, signalement: str, started: datetime, place: str
) -> tuple[str, str]:
    """(subject, body) of the follow-up e-mail with the fuller story."""
    time, date = local_clock(started)
    values = {"time": time, "date": date, "place": place or "uw buurt",
              "outcome": _sentence(outcome), "story": story, "signalement": signalement}
    return (load_prompt("action_outcome_email_subject").format(**values),
            load_prompt("action_outcome_email").format(**values).strip() + "\n")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."
