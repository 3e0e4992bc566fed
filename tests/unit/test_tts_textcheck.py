"""Bad input never reaches a synthesiser: clear errors with codes, or safe cleaning."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.tts.errors import TtsInputError
from engine.tts.textcheck import check_text

REFUSED = [
    ("", "tts_empty_text"),
    ("  \t\n ", "tts_empty_text"),
    ("x" * 10_000, "tts_text_too_long"),
    ("Gezocht\x00man", "tts_control_characters"),
    ("bel \x1b[31m nu", "tts_control_characters"),
    ("<speak>Hallo</speak>", "tts_markup_not_allowed"),
    ('Hallo <break time="3s"/> daar', "tts_markup_not_allowed"),
    ("Man <prosody rate='x-slow'>langzaam</prosody>", "tts_markup_not_allowed"),
    ("Gezocht 😀", "tts_unsupported_characters"),
    ("Верхний", "tts_unsupported_characters"),
    ("警察", "tts_unsupported_characters"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "code"), REFUSED)
def test_bad_text_is_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(TtsInputError) as info:
        check_text(text, max_chars=4000)
    assert info.value.code == code
    assert isinstance(info.value, EngineError) and info.value.status == 422
    assert info.value.message  # a sentence a centralist can act on


CLEANED = [
    ("Regel één\nregel twee\tklaar\r\n", "Regel één regel twee klaar"),
    ("“Jas” – zwart’s", '"Jas" - zwart\'s'),
    ("Şahin Łukasz", "Sahin Lukasz"),
    ("Zoë, café, € 25", "Zoë, café, € 25"),
    ("x < 5 en y > 3", "x < 5 en y > 3"),
    ("a\u00a0b", "a b"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "cleaned"), CLEANED)
def test_harmless_text_is_cleaned(text: str, cleaned: str) -> None:
    assert check_text(text, max_chars=4000) == cleaned


def test_limit_is_configurable() -> None:
    assert check_text("a" * 200, max_chars=200) == "a" * 200
    with pytest.raises(TtsInputError, match="201 characters, the limit is 200"):
        check_text("a" * 201, max_chars=200)
