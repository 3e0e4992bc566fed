"""Dutch message composition and text checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.actions import compose

SIGNALEMENT = "Gezocht: man van ongeveer 30 jaar met een rode jas op een zwarte fiets"


def test_voice_script_has_intro_signalement_and_spoken_callback() -> None:
    script = compose.voice_script(SIGNALEMENT, "0800-0011")
    assert script.startswith("Dit is een oproep voor Burgernet. Gezocht: man")
    assert "rode jas op een zwarte fiets. Heeft u informatie over deze Burgernetactie" in script
    assert script.endswith("en blijf aan de lijn.")
    # The number is read digit group by digit group, never as "achthonderd".
    assert "0800" not in script
    assert "acht" in script and "honderd" not in script


def test_sms_is_gsm7_and_fits_one_segment() -> None:
    text = compose.sms_text(SIGNALEMENT, "0800-0011")
    plan = compose.plan_sms(text, 3)
    assert "Bel 0800-0011" in text
    assert (plan.encoding, plan.segments, plan.fits, plan.warnings) == ("gsm7", 1, True, [])


def test_an_e_trema_switches_to_ucs2_and_the_centralist_is_told() -> None:
    plan = compose.plan_sms(compose.sms_text("Vermist: Zoë, 8 jaar, blauwe jas", "0800-0011"), 3)
    assert plan.encoding == "ucs2"
    assert plan.segments == 2  # 95 characters > 70 in UCS-2
    assert any("ë" in w and "UCS-2" in w for w in plan.warnings)


def test_too_many_segments_is_reported() -> None:
    plan = compose.plan_sms("x" * 500, 3)
    assert not plan.fits
    assert any("4 delen" in w for w in plan.warnings)


def test_outcome_message_in_local_time() -> None:
    started = datetime(2026, 11, 24, 13, 5, tzinfo=UTC)  # 14:05 in Amsterdam (CET)
    text = compose.outcome_text("De verdachte is aangehouden", started=started,
                                place="Deventer")
    assert text == ("De Burgernetactie van 14:05 in Deventer is beëindigd. "
                    "De verdachte is aangehouden. Bedankt voor uw hulp.")


def test_summer_time_is_used_in_summer() -> None:
    assert compose.local_clock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))[0] == "14:00"


def test_update_texts_name_time_place_and_callback() -> None:
    voice, sms = compose.update_texts("Hij draagt nu een blauwe pet",
                                      started=datetime(2026, 11, 24, 13, 5, tzinfo=UTC),
                                      place="Deventer", callback="0800-0011")
    assert "aanvulling op de Burgernetactie van 14:05 in Deventer" in voice
    assert "Hij draagt nu een blauwe pet." in sms and "0800-0011" in sms


@pytest.mark.parametrize("bad", ["rode jas\nEvent: x", "rode\rjas", "nul\x00byte", "bel\x07",
                                 "rtl\u202eoverride"])
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(compose.InvalidText) as info:
        compose.clean_text(bad, what="signalement", max_len=800)
    assert info.value.code == "invalid_text"
    assert info.value.status == 422


def test_overlong_and_empty_text() -> None:
    with pytest.raises(compose.InvalidText) as info:
        compose.clean_text("a" * 10_000, what="signalement", max_len=800)
    assert info.value.code == "text_too_long"
    with pytest.raises(compose.InvalidText) as info:
        compose.clean_text("   ", what="signalement", max_len=800)
    assert info.value.code == "text_empty"


def test_clean_text_trims_and_collapses_spaces() -> None:
    assert compose.clean_text("  rode   jas ", what="x", max_len=50) == "rode jas"


@pytest.mark.parametrize("good", ["0800-0011", "08000011", "+31 20 123 4567", "0570 123456"])
def test_callback_numbers_accepted(good: str) -> None:
    assert compose.check_callback_number(good) == good.strip()


@pytest.mark.parametrize("bad", ["112", "abc", "0800-0011\r\nAction: Originate", "06-1234", ""])
def test_callback_numbers_refused(bad: str) -> None:
    with pytest.raises(compose.InvalidCallbackNumber) as info:
        compose.check_callback_number(bad)
    assert info.value.code == "invalid_callback_number"
