"""``bnet tts render`` and ``bnet prompts render``: thin faces over the speech services."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.tts.backends import backend_names
from engine.tts.cache import prune, write_atomically
from engine.tts.prompt_audio import (
    alias_names,
    install_prompt,
    render_prompt,
    renderable_prompts,
)
from engine.tts.render import render, spoken_text


def register(sub: Any) -> None:
    tts = sub.add_parser("tts", help="text to speech").add_subparsers(dest="tts_cmd",
                                                                       required=True)
    p = tts.add_parser("render", help="render Dutch text to an 8 kHz mono 16-bit WAV")
    p.add_argument("--text", required=True, help="the text to speak")
    p.add_argument("--out", required=True, type=Path, help="WAV file to write")
    p.add_argument("--backend", choices=backend_names(), default=None,
                   help="override tts.backend for this call")
    p.set_defaults(handler=_render)
    p = tts.add_parser("prune", help="delete cached messages not used for some days")
    p.add_argument("--older-than-days", type=float, required=True)
    p.set_defaults(handler=_prune)
    p = tts.add_parser("normalize", help="show the text as the voice will read it")
    p.add_argument("--text", required=True)
    p.set_defaults(handler=_normalize)

    prompts = sub.add_parser("prompts", help="fixed Dutch prompts").add_subparsers(
        dest="prompts_cmd", required=True)
    p = prompts.add_parser("render", help="render every voice prompt into the audio cache")
    p.add_argument("--callback", default=None,
                   help="callback number spoken in prompts (default: actions.callback_number)")
    p.set_defaults(handler=_render_prompts)


def _render(args: argparse.Namespace, settings: Settings) -> int:
    out: Path = args.out
    if out.suffix.lower() != ".wav":
        raise CliError(f"--out must name a .wav file, got {out}")
    try:
        rendered = render(args.text, settings.tts, args.backend)
        write_atomically(out.resolve(), lambda tmp: shutil.copyfile(rendered.path, tmp))
    except EngineError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from exc
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror}") from exc
    state = "from cache" if rendered.cached else "rendered"
    print(f"{out}: {rendered.duration_s:.2f} s, 8000 Hz mono 16-bit, {state}, "
          f"sha256 {rendered.sha256}")
    return 0


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    if args.older_than_days < 1:
        raise CliError("--older-than-days must be at least 1 (actions may still replay audio)")
    age = args.older_than_days * 86400
    now = time.time()
    removed = 0
    if settings.tts.cache_dir.is_dir():
        removed += prune(settings.tts.cache_dir, age, now)
    shared = settings.tts.asterisk_sounds_dir
    if shared is not None and shared.is_dir():
        # A shared copy may be a hard link: its mtime moves with the cache file's.
        removed += prune(shared, age, now, pattern="bnet-*.wav")
    print(f"removed {removed} cached audio files older than {args.older_than_days:g} days")
    return 0


def _normalize(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(spoken_text(args.text, settings.tts))
    except EngineError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from exc
    return 0


def _render_prompts(args: argparse.Namespace, settings: Settings) -> int:
    callback = args.callback or settings.actions.callback_number
    console = Console(stderr=True)
    try:
        names = renderable_prompts(settings.tts)
        done: list[tuple[str, str, float, bool]] = []
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("rendering prompts", total=len(names))
            for name in names:
                rendered = render_prompt(name, settings.tts, callback)
                target = install_prompt(name, rendered, settings.tts)
                for alias in alias_names(name):
                    install_prompt(alias, rendered, settings.tts)
                done.append((name, target, rendered.duration_s, rendered.cached))
                progress.advance(task)
    except EngineError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from exc
    for name, target, duration, cached in done:
        print(f"{name:26} {duration:6.2f} s  {'cached  ' if cached else 'rendered'}  {target}")
    print(f"{len(done)} prompts ready in {settings.tts.cache_dir}")
    return 0
