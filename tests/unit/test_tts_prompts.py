"""The fixed Dutch prompts: present, loadable by name, with the placeholders composers use."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.tts.prompt_audio import prompt_text, renderable_prompts
from engine.tts.prompts import (
    PROMPT_NAMES,
    SMS_PROMPTS,
    PromptNotFound,
    available_prompts,
    load_prompt,
    placeholders,
)
from engine.tts.settings import TtsSettings


@pytest.mark.parametrize("name", PROMPT_NAMES)
def test_every_listed_prompt_exists_and_is_plain_text(name: str) -> None:
    text = load_prompt(name)
    assert text and "\n" not in text
    assert name in available_prompts()


def test_wording_of_the_fixed_prompts() -> None:
    assert load_prompt("intro") == "Dit is een oproep voor Burgernet."
    assert load_prompt("no_active_action") == (
        "Er is op dit moment geen actieve Burgernetactie. Bel bij spoed 112."
    )
    menu = load_prompt("menu")
    for key in ("Druk 1", "druk 2", "druk 9"):
        assert key in menu
    assert placeholders(load_prompt("message_closing")) == {"callback"}
    assert placeholders(load_prompt("outcome")) == {"outcome"}
    assert placeholders(load_prompt("update")) == {"update"}


@pytest.mark.parametrize("name", SMS_PROMPTS)
def test_sms_templates_stay_in_plain_gsm7_letters(name: str) -> None:
    assert load_prompt(name).isascii()


def test_ivr_alias_unsubscribed_loads_the_confirmation() -> None:
    assert load_prompt("unsubscribed") == load_prompt("unsubscribe_confirmation")


@pytest.mark.parametrize("name", ["../pyproject", "menu.txt", "/etc/passwd", "MENU", "nope"])
def test_unknown_or_unsafe_names_are_not_found(name: str) -> None:
    with pytest.raises(PromptNotFound):
        load_prompt(name)


def test_configured_prompts_dir_is_used(tmp_path: Path) -> None:
    (tmp_path / "intro.txt").write_text("Andere intro.\n", encoding="utf-8")
    assert load_prompt("intro", tmp_path) == "Andere intro."
    with pytest.raises(PromptNotFound, match="prompts folder not found"):
        load_prompt("intro", tmp_path / "missing")


def test_callback_prompt_reads_the_number_in_digit_groups() -> None:
    text = prompt_text("message_closing", TtsSettings(), "0800-0011")
    assert "belt u dan met nul acht nul nul, nul nul één één en blijf aan de lijn" in text


def test_only_prompts_without_action_fields_are_prerendered() -> None:
    names = renderable_prompts(TtsSettings())
    assert {"intro", "menu", "message_closing", "no_active_action"} <= set(names)
    assert not {"outcome", "update", *SMS_PROMPTS} & set(names)
