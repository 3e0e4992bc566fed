"""Dutch normalization: what the voice is given to read, table by table."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.tts.normalize import normalize_dutch
from engine.tts.words_nl import number_words, ordinal_words, speak_phone_number, year_words

NUMBERS = [
    (0, "nul"), (1, "één"), (7, "zeven"), (11, "elf"), (14, "veertien"), (20, "twintig"),
    (21, "eenentwintig"), (22, "tweeëntwintig"), (23, "drieëntwintig"), (43, "drieënveertig"),
    (80, "tachtig"), (99, "negenennegentig"), (100, "honderd"), (101, "honderdeen"),
    (180, "honderdtachtig"), (250, "tweehonderdvijftig"), (1000, "duizend"),
    (1250, "duizend tweehonderdvijftig"), (2026, "tweeduizend zesentwintig"),
    (21000, "eenentwintigduizend"), (1_000_000, "één miljoen"),
    (2_500_000, "twee miljoen vijfhonderdduizend"),
]  # fmt: skip


@pytest.mark.parametrize(("n", "words"), NUMBERS)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (1, "eerste"), (2, "tweede"), (3, "derde"), (8, "achtste"), (12, "twaalfde"),
    (20, "twintigste"), (21, "eenentwintigste"), (100, "honderdste"), (103, "honderdderde"),
])  # fmt: skip
def test_ordinal_words(n: int, words: str) -> None:
    assert ordinal_words(n) == words


def test_years_are_read_in_hundreds_before_2000() -> None:
    assert year_words(1985) == "negentienhonderdvijfentachtig"
    assert year_words(2026) == "tweeduizend zesentwintig"


PHONES = [
    ("0800-0011", "nul acht nul nul, nul nul één één"),
    ("0800 00 11", "nul acht nul nul, nul nul, één één"),
    ("08000011", "nul acht nul nul, nul nul één één"),
    ("0612345678", "nul zes, één twee drie vier, vijf zes zeven acht"),
    ("06-12345678", "nul zes, één twee drie vier, vijf zes zeven acht"),
    ("+31612345678", "plus drie één, zes, één twee drie vier, vijf zes zeven acht"),
    ("0201234567", "nul twee nul, één twee drie, vier vijf zes zeven"),
    ("112", "één één twee"),
]  # fmt: skip


@pytest.mark.parametrize(("number", "spoken"), PHONES)
def test_speak_phone_number_reads_digit_groups(number: str, spoken: str) -> None:
    assert speak_phone_number(number) == spoken


NORMALIZE = [
    # lengths and amounts
    ("1,80 m", "één meter tachtig"),
    ("1.80 m lang", "één meter tachtig lang"),
    ("1,75m", "één meter vijfenzeventig"),
    ("1,8 m", "één meter tachtig"),
    ("2 m", "twee meter"),
    ("180 cm", "honderdtachtig centimeter"),
    ("€ 25", "vijfentwintig euro"),
    ("€25,50", "vijfentwintig euro vijftig"),
    ("€ 25,-", "vijfentwintig euro"),
    ("€ 1.250", "duizend tweehonderdvijftig euro"),
    ("20 euro", "twintig euro"),
    ("2,5 km", "twee komma vijf kilometer"),
    ("50 km/u", "vijftig kilometer per uur"),
    ("10%", "tien procent"),
    # times and dates
    ("14:05", "veertien uur vijf"),
    ("14.05 uur", "veertien uur vijf"),
    ("om 9:30", "om negen uur dertig"),
    ("21.00 uur", "eenentwintig uur"),
    ("24-11-2026", "vierentwintig november tweeduizend zesentwintig"),
    ("1/3/2026", "één maart tweeduizend zesentwintig"),
    ("2026-11-24", "vierentwintig november tweeduizend zesentwintig"),
    ("45-13-2026", "vijfenveertig, dertien, tweeduizend zesentwintig"),
    # abbreviations
    ("m., ca. 30 jr.", "man, circa dertig jaar"),
    ("Ca. 15 personen", "Circa vijftien personen"),
    ("Jan jr. de Vries", "Jan junior de Vries"),
    ("o.a. een rode jas", "onder andere een rode jas"),
    ("t.h.v. nr. 5", "ter hoogte van nummer vijf"),
    ("3 min.", "drie minuten"),
    ("1 minuut", "één minuut"),
    # licence plates and postcodes
    ("12-ABC-3", "één twee, aa bee cee, drie"),
    ("AB-12-CD", "aa bee, één twee, cee dee"),
    ("kenteken XX-999-X.", "kenteken iks iks, negen negen negen, iks."),
    ("1-KRT-23", "één, kaa èr tee, twee drie"),
    ("postcode 7311 AB", "postcode zeven drie één één, aa bee"),
    # phone numbers and ranges
    ("Bel 0800-0011 nu", "Bel nul acht nul nul, nul nul één één nu"),
    ("Bel bij spoed 112.", "Bel bij spoed één één twee."),
    ("112 km", "honderdtwaalf kilometer"),
    ("30-35 jaar", "dertig tot vijfendertig jaar"),
    ("tussen 20 - 25 jaar", "tussen twintig en vijfentwintig jaar"),
    ("een 14-jarige", "een veertienjarige"),
    ("de 3e straat", "de derde straat"),
    ("ID 0012345", "ID nul nul één twee drie vier vijf"),
    ("Hoofdstraat 12", "Hoofdstraat twaalf"),
    ("tussen 20.00 en 21.00 uur", "tussen twintig uur en eenentwintig uur"),
    ("om 14u05", "om veertien uur vijf"),
    ("1m80", "één meter tachtig"),
    ("1,65-1,70 m", "één meter vijfenzestig tot één meter zeventig"),
    ("lengte 1.85", "lengte één komma vijfentachtig"),
    ("ca 1.80 m", "circa één meter tachtig"),
    ("+/- 30 jaar", "ongeveer dertig jaar"),
    ("± 30 jaar", "ongeveer dertig jaar"),
    ("vermist sinds 23-11", "vermist sinds drieëntwintig november"),
    ("10-12 jaar", "tien tot twaalf jaar"),
    ("zo. 24 nov.", "zo. vierentwintig november"),
    ("nr 12", "nummer twaalf"),
    ("A12 richting Utrecht", "aa twaalf richting Utrecht"),
    ("N302", "en driehonderdtwee"),
    ("€ 0,50", "vijftig cent"),
    # symbols and spacing
    ("Jan & Piet", "Jan en Piet"),
    ("a   b", "a b"),
    ("Geen cijfers hier.", "Geen cijfers hier."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "spoken"), NORMALIZE)
def test_normalize_dutch(text: str, spoken: str) -> None:
    assert normalize_dutch(text) == spoken


def test_normalized_text_has_no_digits_left() -> None:
    from tests.tts_support import SIGNALEMENT

    spoken = normalize_dutch(SIGNALEMENT)
    assert not any(c.isdigit() for c in spoken), spoken
    assert "veertien uur vijf" in spoken
    assert "dee èr tee, één twee, kaa" in spoken


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 .,:-/€%+±ABCXmkujr")), max_size=40))
def test_no_digit_ever_reaches_the_voice(text: str) -> None:
    assert not any(c.isdigit() for c in normalize_dutch(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255,
                                      blacklist_categories=("Cc",)), max_size=80))  # fmt: skip
def test_any_latin1_text_normalizes_without_error(text: str) -> None:
    assert isinstance(normalize_dutch(text), str)
