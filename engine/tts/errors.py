"""Speech errors: each carries a stable ``code`` for problem+json and the CLI."""

from __future__ import annotations

from engine.errors import EngineError, InvalidInput


class TtsError(EngineError):
    """Base of every speech failure."""

    code = "tts_error"
    status = 500


class TtsInputError(InvalidInput):
    """The text cannot be spoken as given (empty, too long, markup, unsupported characters)."""

    code = "tts_invalid_text"


class TtsBackendUnavailable(TtsError):
    """The chosen backend is not installed, not configured or cannot be reached."""

    code = "tts_backend_unavailable"
    status = 503


class TtsRenderFailed(TtsError):
    """A synthesis or conversion subprocess failed or produced unusable audio."""

    code = "tts_render_failed"
