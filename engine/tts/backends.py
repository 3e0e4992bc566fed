"""Speech synthesis backends behind one small interface.

A backend turns already-normalised text into audio bytes in some container (``wav`` or
``mp3``); conversion to the telephone format is done once, elsewhere (:mod:`engine.tts.audio`).
Text is always handed over on stdin or as a Python argument, never through a shell.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.tts.errors import TtsBackendUnavailable, TtsInputError, TtsRenderFailed
from engine.tts.settings import BackendName, TtsSettings

log = logging.getLogger(__name__)

_SUBPROCESS_TIMEOUT_S = 60


@dataclass(frozen=True)
class Speech:
    data: bytes
    #: Container format for the converter: "wav" or "mp3".
    fmt: str


@dataclass(frozen=True)
class StreamCommand:
    args: list[str]
    stdin: bytes
    #: Container format of what the command writes to stdout.
    fmt: str


class SpeechBackend(Protocol):
    name: str

    def identity(self) -> str:
        """Everything about this backend that changes the audio (goes into the cache hash)."""
        ...

    def synthesize(self, text: str) -> Speech: ...

    def stream_command(self, text: str) -> StreamCommand | None:
        """A stdin-to-stdout command for ``text`` that can be piped straight into the
        converter (no Python in between), or None when the backend cannot stream."""
        ...


def find_binary(name: str, *, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TtsBackendUnavailable(f"{name!r} not found on PATH; {hint}")
    return path


def run_tool(args: list[str], stdin: bytes, what: str) -> bytes:
    """Run one tool with an argument list (no shell); raise TtsRenderFailed with its stderr."""
    try:
        done = subprocess.run(
            args, input=stdin, capture_output=True, timeout=_SUBPROCESS_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TtsRenderFailed(f"{what} took longer than {_SUBPROCESS_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise TtsBackendUnavailable(f"{what} could not be started: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise TtsRenderFailed(f"{what} failed (exit {done.returncode}): {detail[0]}")
    return done.stdout


class EspeakBackend:
    name = "espeak"

    def __init__(self, settings: TtsSettings):
        self._settings = settings

    def identity(self) -> str:
        return f"espeak-ng|voice={self._settings.voice}|wpm={self._settings.speed_wpm}"

    def stream_command(self, text: str) -> StreamCommand:
        binary = find_binary(self._settings.espeak_binary, hint="install the espeak-ng package")
        # espeak-ng reads [[...]] as phoneme codes: text must not be able to switch to them.
        # The text goes on stdin, so a leading "-" can never be taken for an option.
        safe = text.replace("[", "(").replace("]", ")")
        args = [binary, "-v", self._settings.voice, "-s", str(self._settings.speed_wpm),
                "-b", "1", "--stdout"]  # fmt: skip
        return StreamCommand(args, safe.encode("utf-8"), "wav")

    def synthesize(self, text: str) -> Speech:
        command = self.stream_command(text)
        return Speech(run_tool(command.args, command.stdin, "espeak-ng"), command.fmt)


class PiperBackend:
    name = "piper"

    def __init__(self, settings: TtsSettings):
        self._settings = settings

    def _model(self) -> Path:
        model = self._settings.piper_model
        if model is None:
            raise TtsBackendUnavailable(
                "piper needs a local voice model: set tts.piper_model to a .onnx file "
                "(e.g. nl_NL-mls-medium.onnx with its .onnx.json next to it)"
            )
        if not model.is_file():
            raise TtsBackendUnavailable(f"piper voice model not found: {model} (tts.piper_model)")
        return model

    def identity(self) -> str:
        model = self._model()
        stat = model.stat()
        return f"piper|model={model.resolve()}|size={stat.st_size}|mtime={stat.st_mtime_ns}"

    def stream_command(self, text: str) -> None:
        return None  # piper writes a file (its raw stdout mode has no header to convert)

    def synthesize(self, text: str) -> Speech:
        model = self._model()
        binary = find_binary(
            self._settings.piper_binary,
            hint="install the optional extra: pip install 'burgernet-engine[piper]'",
        )
        with tempfile.TemporaryDirectory(prefix="bnet-piper-") as tmp:
            out = Path(tmp) / "speech.wav"
            args = [binary, "--model", str(model), "--output_file", str(out)]
            run_tool(args, text.encode("utf-8"), "piper")
            if not out.is_file():
                raise TtsRenderFailed("piper exited without writing audio")
            return Speech(out.read_bytes(), "wav")


class GttsBackend:
    """Google Translate's TTS: online only, and the text leaves the machine."""

    name = "gtts"

    def __init__(self, settings: TtsSettings):
        self._settings = settings

    def identity(self) -> str:
        return f"gtts|lang={self._settings.gtts_lang}"

    def stream_command(self, text: str) -> None:
        return None  # a Python library, not a command

    def synthesize(self, text: str) -> Speech:
        try:
            from gtts import gTTS, gTTSError
        except ImportError as exc:
            raise TtsBackendUnavailable(
                "gTTS is not installed: pip install 'burgernet-engine[gtts]'"
            ) from exc
        log.warning("tts backend gtts: the text is sent to Google (translate.google.com)")
        buffer = io.BytesIO()
        try:
            gTTS(text=text, lang=self._settings.gtts_lang).write_to_fp(buffer)
        except (gTTSError, OSError) as exc:
            raise TtsBackendUnavailable(
                f"gTTS needs internet access to translate.google.com and failed: {exc}"
            ) from exc
        return Speech(buffer.getvalue(), "mp3")


_BACKENDS: dict[str, type[EspeakBackend] | type[PiperBackend] | type[GttsBackend]] = {
    "espeak": EspeakBackend,
    "piper": PiperBackend,
    "gtts": GttsBackend,
}


def get_backend(settings: TtsSettings, name: BackendName | str | None = None) -> SpeechBackend:
    """The configured backend, or ``name`` as a per-call (per-action) override."""
    chosen = name or settings.backend
    try:
        return _BACKENDS[chosen](settings)
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise TtsInputError(
            f"unknown tts backend {chosen!r} (known: {known})", code="tts_unknown_backend"
        ) from None


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


__all__ = ["Speech", "SpeechBackend", "StreamCommand", "backend_names", "get_backend"]
