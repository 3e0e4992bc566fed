"""Base error types shared across features.

Service errors carry a stable ``code`` that the HTTP layer turns into problem+json and the CLI
turns into one line. Each feature subclasses these in its own ``errors.py``.
"""

from __future__ import annotations


class EngineError(Exception):
    """A failure a user can understand and act on."""

    code: str = "engine_error"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class NotFound(EngineError):
    code = "not_found"
    status = 404


class Conflict(EngineError):
    code = "conflict"
    status = 409


class InvalidInput(EngineError):
    code = "invalid_input"
    status = 422


class CliError(Exception):
    """One-line error for the command line (exit code 2)."""
