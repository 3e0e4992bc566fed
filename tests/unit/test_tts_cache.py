"""The content-addressed cache without a synthesiser: atomic writes, hits, pruning."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.config import Settings
from engine.tts.cache import cache_path, get_or_create, prune
from tests.tts_support import run_cli, tts_settings

SHA_A, SHA_B = "a" * 64, "b" * 64


def test_second_request_is_a_hit_and_does_not_write(tmp_path: Path) -> None:
    calls: list[Path] = []

    def write(tmp: Path) -> None:
        calls.append(tmp)
        tmp.write_bytes(b"RIFF audio")

    path, cached = get_or_create(tmp_path, SHA_A, write)
    assert (path, cached) == (tmp_path / f"{SHA_A}.wav", False)
    assert get_or_create(tmp_path, SHA_A, write) == (path, True)
    assert len(calls) == 1 and calls[0].name.startswith(".tmp-")
    assert path.read_bytes() == b"RIFF audio"
    assert oct(path.stat().st_mode & 0o777) == "0o644"  # readable by the asterisk user


def test_failed_render_leaves_nothing_behind(tmp_path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("espeak died")

    with pytest.raises(RuntimeError):
        get_or_create(tmp_path, SHA_A, write)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []


@pytest.mark.parametrize("bad", ["../" + "a" * 61, "A" * 64, "a" * 63, ""])
def test_cache_paths_only_for_sha256(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        cache_path(tmp_path, bad)


def test_prune_removes_only_old_content_addressed_files(tmp_path: Path) -> None:
    now = time.time()
    old, fresh = tmp_path / f"{SHA_A}.wav", tmp_path / f"{SHA_B}.wav"
    other = tmp_path / "keep-me.wav"
    for path in (old, fresh, other):
        path.write_bytes(b"RIFF")
    for path in (old, other):
        os.utime(path, (now - 40 * 86400, now - 40 * 86400))
    assert prune(tmp_path, 30 * 86400, now) == 1
    assert not old.exists() and fresh.exists() and other.exists()


def test_a_hit_keeps_the_file_from_being_pruned(tmp_path: Path) -> None:
    now = time.time()
    path, _ = get_or_create(tmp_path, SHA_A, lambda tmp: tmp.write_bytes(b"RIFF"))
    os.utime(path, (now - 40 * 86400, now - 40 * 86400))
    get_or_create(tmp_path, SHA_A, lambda tmp: tmp.write_bytes(b"never"))
    assert prune(tmp_path, 30 * 86400, time.time()) == 0


def test_cli_prune(tmp_path: Path) -> None:
    settings = Settings(tts=tts_settings(tmp_path))
    old = settings.tts.cache_dir / f"{SHA_A}.wav"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"RIFF")
    os.utime(old, (time.time() - 90 * 86400,) * 2)
    assert run_cli(["tts", "prune", "--older-than-days", "30"], settings) == (0, "")
    assert not old.exists()
    code, error = run_cli(["tts", "prune", "--older-than-days", "0"], settings)
    assert code == 2 and "at least 1" in error
