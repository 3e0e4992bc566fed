"""Real espeak-ng + sox (and ffmpeg): telephone format, loudness, cache, concurrency."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.config import Settings
from engine.tts.delivery import install_for_asterisk, playback_name
from engine.tts.errors import TtsBackendUnavailable, TtsInputError
from engine.tts.normalize import normalize_dutch
from engine.tts.render import audio_hash, render, render_parts
from tests.tts_support import (
    SIGNALEMENT,
    fake_piper,
    release_when_ready,
    render_in_subprocess,
    run_cli,
    slow_espeak,
    tts_settings,
    wav_info,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                       reason="needs the espeak-ng and sox Debian packages"),
]  # fmt: skip


def _expected_seconds(text: str, wpm: int) -> float:
    return len(normalize_dutch(text).split()) / wpm * 60


def test_signalement_renders_to_telephone_wav(tmp_path: Path) -> None:
    settings = tts_settings(tmp_path)
    rendered = render(SIGNALEMENT, settings)
    info = wav_info(rendered.path)
    assert (info.rate, info.channels, info.sample_width) == (8000, 1, 2)
    assert info.rms > 1000  # clearly audible, not silence
    assert rendered.duration_s == pytest.approx(info.duration_s)
    expected = _expected_seconds(SIGNALEMENT, settings.speed_wpm)
    assert 0.6 * expected < rendered.duration_s < 1.6 * expected
    assert 25 < rendered.duration_s < 75
    assert rendered.path == settings.cache_dir / f"{rendered.sha256}.wav"
    assert rendered.sha256 == audio_hash(SIGNALEMENT, settings)
    assert rendered.cached is False


def test_slower_voice_gives_longer_audio(tmp_path: Path) -> None:
    fast = render("Dit is een oproep voor Burgernet.", tts_settings(tmp_path, speed_wpm=220))
    slow = render("Dit is een oproep voor Burgernet.", tts_settings(tmp_path, speed_wpm=110))
    assert slow.duration_s > 1.5 * fast.duration_s


def test_cache_hit_returns_the_same_file_without_synthesis(tmp_path: Path) -> None:
    first = render("Een man met een rode pet.", tts_settings(tmp_path))
    inode, content = first.path.stat().st_ino, first.path.read_bytes()
    # A broken synthesiser proves the second call does not synthesise.
    again = render("Een man met een rode pet.", tts_settings(tmp_path, espeak_binary="/no/espeak"))
    assert again.cached is True
    assert (again.path, again.sha256, again.duration_s) == (first.path, first.sha256,
                                                           first.duration_s)  # fmt: skip
    assert again.path.stat().st_ino == inode and again.path.read_bytes() == content
    with pytest.raises(TtsBackendUnavailable):
        render("Iets nieuws.", tts_settings(tmp_path, espeak_binary="/no/espeak"))


def test_concurrent_threads_render_once(tmp_path: Path) -> None:
    script, log = slow_espeak(tmp_path)
    settings = tts_settings(tmp_path, espeak_binary=str(script))
    barrier = threading.Barrier(6)

    def go() -> tuple[str, bool]:
        barrier.wait()
        rendered = render("Gezocht: een vrouw in een groene jas.", settings)
        return rendered.sha256, rendered.cached

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: go(), range(6)))
    assert len({sha for sha, _ in results}) == 1
    assert sorted(cached for _, cached in results) == [False] + [True] * 5
    assert log.read_text().count("start") == 1
    assert [p.name for p in settings.cache_dir.iterdir() if p.is_file()] == [f"{results[0][0]}.wav"]


def test_concurrent_processes_render_once(tmp_path: Path) -> None:
    script, log = slow_espeak(tmp_path)
    cache = tmp_path / "cache"
    text = "Gezocht: een jongen van 12 jaar op een blauwe fiets."
    gate = tmp_path / "gate"
    gate.mkdir()
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(render_in_subprocess, text, str(cache), str(script), str(gate))
                   for _ in range(3)]  # fmt: skip
        release_when_ready(gate, 3)
        results = [f.result(timeout=60) for f in futures]
    assert len({sha for sha, _ in results}) == 1
    assert sorted(cached for _, cached in results) == [False, True, True]
    assert log.read_text().count("start") == 1
    files = [p.name for p in cache.iterdir() if p.is_file()]
    assert files == [f"{results[0][0]}.wav"]  # no temporary files left behind


def test_parts_are_joined_with_pauses_and_reuse_cached_parts(tmp_path: Path) -> None:
    settings = tts_settings(tmp_path, part_pause_ms=500)
    intro = render("Dit is een oproep voor Burgernet.", settings)
    texts = ["Dit is een oproep voor Burgernet.", "Gezocht: een man.", "Druk 1 om te herhalen."]
    joined = render_parts(texts, settings)
    parts = [render(t, settings) for t in texts[1:]]
    assert joined.duration_s == pytest.approx(
        intro.duration_s + sum(p.duration_s for p in parts) + 2 * 0.5, abs=0.01
    )
    assert wav_info(joined.path).rate == 8000
    assert render_parts(texts, settings).cached


def test_ffmpeg_converter_gives_the_same_format(tmp_path: Path) -> None:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed")
    rendered = render("Een rode auto.", tts_settings(tmp_path, converter="ffmpeg"))
    info = wav_info(rendered.path)
    assert (info.rate, info.channels, info.sample_width) == (8000, 1, 2) and info.rms > 1000


def test_piper_backend_through_its_command_line(tmp_path: Path) -> None:
    model = tmp_path / "nl_NL-test.onnx"
    model.write_bytes(b"not a real model; the fake piper ignores it")
    settings = tts_settings(tmp_path, piper_model=model, piper_binary=str(fake_piper(tmp_path)))
    rendered = render("Een man met een pet.", settings, backend="piper")
    info = wav_info(rendered.path)
    assert (info.rate, info.channels) == (8000, 1) and info.rms > 1000
    assert rendered.sha256 != audio_hash("Een man met een pet.", settings, backend="espeak")


@pytest.mark.parametrize(("text", "code"), [
    ("", "tts_empty_text"), ("woord " * 2000, "tts_text_too_long"),
    ("<speak>Hallo</speak>", "tts_markup_not_allowed"), ("Hallo \x07", "tts_control_characters"),
    ("Hallo 😀", "tts_unsupported_characters"),
])  # fmt: skip
def test_bad_input_is_refused_before_synthesis(tmp_path: Path, text: str, code: str) -> None:
    with pytest.raises(TtsInputError) as info:
        render(text, tts_settings(tmp_path))
    assert info.value.code == code
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("*.wav"))


def test_phoneme_brackets_and_leading_dashes_are_spoken_as_text(tmp_path: Path) -> None:
    # "[[...]]" switches espeak-ng to phoneme input; "-" could look like an option.
    rendered = render("--help [[h@l'oU]] -v en", tts_settings(tmp_path))
    assert rendered.duration_s > 1.0


def test_install_into_asterisk_sounds_dir(tmp_path: Path) -> None:
    sounds = tmp_path / "asterisk" / "sounds"
    settings = tts_settings(tmp_path, asterisk_sounds_dir=sounds)
    rendered = render("Een man.", settings)
    installed = sounds / f"bnet-{rendered.sha256}.wav"
    assert installed.read_bytes() == rendered.path.read_bytes()  # render installs it
    name = install_for_asterisk(rendered, settings)
    assert name == str(installed.with_suffix("").resolve())
    assert install_for_asterisk(rendered, settings) == name  # idempotent
    no_share = tts_settings(tmp_path)
    assert install_for_asterisk(rendered, no_share) == playback_name(rendered.path)


def test_cli_tts_render_writes_the_wav(tmp_path: Path) -> None:
    out = tmp_path / "out" / "msg.wav"
    settings = Settings(tts=tts_settings(tmp_path))
    code, error = run_cli(["tts", "render", "--text", "Gezocht: man, ca. 30 jr.", "--out",
                           str(out)], settings)  # fmt: skip
    assert (code, error) == (0, "")
    assert wav_info(out).rate == 8000 and wav_info(out).rms > 1000
    code, error = run_cli(["tts", "render", "--text", " ", "--out", str(out)], settings)
    assert code == 2 and error.startswith("tts_empty_text:")
    code, error = run_cli(["tts", "render", "--text", "x", "--out", str(tmp_path / "x.mp3")],
                          settings)  # fmt: skip
    assert code == 2 and ".wav" in error


def test_cli_prompts_render_installs_stable_names(tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    settings = Settings(tts=tts_settings(tmp_path, asterisk_sounds_dir=sounds))
    assert run_cli(["prompts", "render"], settings) == (0, "")
    for name in ("intro", "menu", "no_active_action", "message_closing", "unsubscribed"):
        info = wav_info(sounds / "bnet" / f"{name}.wav")
        assert info.rate == 8000 and info.rms > 1000
    assert run_cli(["prompts", "render"], settings) == (0, "")  # second run: from cache
    assert sorted(p.name for p in (sounds / "bnet").iterdir()) == sorted(
        p.name for p in (sounds / "bnet").glob("*.wav")
    )  # no temporary files left
    assert not list(sounds.glob("bnet-*.wav"))  # prompts go by name, not by hash


def test_ivr_gets_playback_names_only_for_rendered_prompts(tmp_path: Path) -> None:
    from engine.tts.prompt_audio import prompt_sound_name

    sounds = tmp_path / "sounds"
    shared = tts_settings(tmp_path, asterisk_sounds_dir=sounds)
    assert prompt_sound_name("menu", shared, "0800-0011") is None  # never renders on demand
    run_cli(["prompts", "render"], Settings(tts=shared))
    assert prompt_sound_name("menu", shared, "0800-0011") == str((sounds / "bnet" / "menu")
                                                                 .resolve())  # fmt: skip
    assert prompt_sound_name("unsubscribed", shared, "0800-0011") == str(
        (sounds / "bnet" / "unsubscribe_confirmation").resolve()
    )
    local = tts_settings(tmp_path)  # same cache, no shared sounds directory
    name = prompt_sound_name("menu", local, "0800-0011")
    assert name is not None and Path(name + ".wav").is_file()
    assert prompt_sound_name("no_such_prompt", local, "0800-0011") is None
