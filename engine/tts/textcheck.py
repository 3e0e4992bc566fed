"""Refuse or clean text before it reaches a synthesiser (pure).

Text comes from a control room's dispatch system: it may be empty, huge, carry control
characters, SSML-like markup or characters the voices cannot say. Whitespace controls and
typographic punctuation are cleaned silently; everything else gets a clear error with a code.
"""

from __future__ import annotations

import re
import unicodedata

from engine.tts.errors import TtsInputError

#: Typographic characters outside Latin-1 that have a plain equivalent.
_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": " - ", "\u2026": "...", "\u2022": ",", "\u2212": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "", "\u0141": "L", "\u0142": "l",
    "\u0110": "D", "\u0111": "d", "\u0152": "Oe", "\u0153": "oe", "\u0131": "i",
})  # fmt: skip
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f]+")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z][\w:-]*(?:\s[^<>]*)?/?\s*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Euro sign is outside Latin-1 but normalization reads it ("€ 25" -> "vijfentwintig euro").
_ALLOWED_EXTRA = frozenset("€")


def check_text(text: str, *, max_chars: int) -> str:
    """Return ``text`` cleaned for synthesis, or raise :class:`TtsInputError` saying why not."""
    text = unicodedata.normalize("NFC", text).translate(_TYPOGRAPHY)
    text = _WHITESPACE_CONTROLS.sub(" ", text).strip()
    if not text:
        raise TtsInputError("text to speak is empty", code="tts_empty_text")
    if len(text) > max_chars:
        raise TtsInputError(
            f"text to speak is {len(text)} characters, the limit is {max_chars} "
            "(tts.max_text_chars)",
            code="tts_text_too_long",
        )
    control = _CONTROL.search(text)
    if control:
        raise TtsInputError(
            f"text contains control character U+{ord(control[0]):04X} at position "
            f"{control.start()}",
            code="tts_control_characters",
        )
    if _MARKUP.search(text):
        raise TtsInputError(
            "text contains markup (like <speak>); send plain text, SSML is not supported",
            code="tts_markup_not_allowed",
        )
    return _to_latin1(text)


def _to_latin1(text: str) -> str:
    """Strip accents the voices cannot say (Ł is refused, Ş becomes S); refuse the rest."""
    out = []
    for pos, char in enumerate(text):
        if ord(char) < 256 or char in _ALLOWED_EXTRA:
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base and all(ord(c) < 256 for c in base):
            out.append(base)
            continue
        name = unicodedata.name(char, "unnamed")
        raise TtsInputError(
            f"text contains {name} (U+{ord(char):04X}) at position {pos}, which the Dutch "
            "voices cannot say; only Latin-1 characters and the euro sign are supported",
            code="tts_unsupported_characters",
        )
    return "".join(out)
