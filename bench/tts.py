"""Render a ~40-second Dutch signalement with espeak-ng: cold (fresh cache) and cached.

Cold = text check + normalization + espeak-ng + sox to 8 kHz + loudness + WAV write + rename.
Cached = the same call when the file exists (check + normalise + hash + stat + WAV header).
Prints a per-stage breakdown, then ONE JSON object as the last line.

    .venv/bin/python bench/tts.py [--reps 7] [--converter sox|ffmpeg]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from engine.tts import audio
from engine.tts.backends import get_backend
from engine.tts.pipeline import parallel_chunks, synthesize_pcm
from engine.tts.render import render, spoken_text
from engine.tts.settings import TtsSettings

COLD_BOUND_MS = 150.0
CACHED_BOUND_MS = 5.0

SIGNALEMENT = (
    "Dit is een oproep voor Burgernet. De politie is op zoek naar een man die om 14:05 uur "
    "een overval heeft gepleegd op een supermarkt aan de Hoofdstraat in Apeldoorn. Het gaat "
    "om een m., ca. 30 jr., 1,80 m lang, slank postuur, kort donker haar en een baardje. Hij "
    "droeg een zwarte jas met capuchon, een blauwe spijkerbroek en witte sportschoenen. Hij "
    "is gevlucht op een donkergrijze scooter met kenteken DRT-12-K in de richting van het "
    "station. Benader de man niet zelf. Heeft u informatie over deze Burgernetactie, belt u "
    "dan met nul acht nul nul, nul nul één één en blijf aan de lijn."
)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (espeak-ng, sox)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _stages(settings: TtsSettings) -> dict[str, float]:
    """Where the time of a cold render goes (each step timed on its own)."""
    t = time.perf_counter()
    spoken = spoken_text(SIGNALEMENT, settings)
    stages = {"normalize_ms": _ms(t)}
    backend = get_backend(settings)
    t = time.perf_counter()
    speech = backend.synthesize(spoken)
    stages["espeak_one_run_ms"] = _ms(t)
    t = time.perf_counter()
    audio.to_telephone_pcm(speech, settings.converter)
    stages["convert_after_ms"] = _ms(t)
    command = backend.stream_command(spoken)
    assert command is not None
    t = time.perf_counter()
    audio.piped_to_telephone_pcm(command, settings.converter)
    stages["espeak_piped_into_converter_ms"] = _ms(t)
    t = time.perf_counter()
    pcm = synthesize_pcm(backend, spoken, settings)
    stages["parallel_chunks_piped_ms"] = _ms(t)
    t = time.perf_counter()
    out = audio.normalize_loudness(pcm, settings.loudness_dbfs)
    with tempfile.TemporaryDirectory() as tmp:
        audio.write_wav(Path(tmp) / "x.wav", out)
    stages["loudness_and_write_ms"] = _ms(t)
    return {k: round(v, 1) for k, v in stages.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--converter", choices=["sox", "ffmpeg"], default="sox")
    args = parser.parse_args()
    cold: list[float] = []
    cold_cpu: list[float] = []
    cached: list[float] = []
    audio_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bnet-bench-tts-") as root:
        warm = TtsSettings(cache_dir=Path(root) / "warmup", converter=args.converter)
        render(SIGNALEMENT, warm)  # page in espeak-ng data and Python modules once
        for rep in range(args.reps):
            settings = TtsSettings(cache_dir=Path(root) / f"cold-{rep}", converter=args.converter)
            cpu = _cpu_s()
            t = time.perf_counter()
            rendered = render(SIGNALEMENT, settings)
            cold.append(_ms(t))
            cold_cpu.append((_cpu_s() - cpu) * 1000)
            assert not rendered.cached
            audio_s = rendered.duration_s
            for _ in range(20):
                t = time.perf_counter()
                again = render(SIGNALEMENT, settings)
                cached.append(_ms(t))
                assert again.cached and again.path == rendered.path
        stages = _stages(warm)
    cold_p50 = statistics.median(cold)
    cached_p50 = statistics.median(cached)
    chunks = parallel_chunks(spoken_text(SIGNALEMENT, TtsSettings()))
    load = os.getloadavg()[0]
    print(f"converter={args.converter} reps={args.reps} audio={audio_s:.1f}s "
          f"chunks={chunks} cpus={os.cpu_count()} load1={load:.2f}")
    print(f"cold ms: {', '.join(f'{v:.1f}' for v in cold)}")
    print(f"cold cpu ms (all processes): {', '.join(f'{v:.1f}' for v in cold_cpu)}")
    print(f"cached ms p50 {cached_p50:.3f} max {max(cached):.3f}")
    print(f"stages of one cold render: {stages}")
    result = {
        "cold_ms_p50": round(cold_p50, 1),
        "cold_ms_max": round(max(cold), 1),
        "cold_bound_ms": COLD_BOUND_MS,
        "cold_ratio": round(cold_p50 / COLD_BOUND_MS, 3),
        "cached_ms": round(cached_p50, 3),
        "cached_bound_ms": CACHED_BOUND_MS,
        "cached_ratio": round(cached_p50 / CACHED_BOUND_MS, 3),
        "audio_s": round(audio_s, 2),
        "render_to_audio_ratio": round(cold_p50 / 1000 / audio_s, 4),
        "cold_cpu_ms_p50": round(statistics.median(cold_cpu), 1),
        "parallel_chunks": chunks,
        "loadavg_1m": round(load, 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
