"""Errors of the mail feature."""

from __future__ import annotations

from engine.errors import EngineError, InvalidInput


class MailError(EngineError):
    code = "mail_error"


class InvalidAddress(InvalidInput):
    """An e-mail address that cannot be used safely (malformed, control characters)."""

    code = "invalid_email_address"


class MailConfigError(MailError):
    """The mail settings do not allow sending; the message names the setting."""

    code = "mail_config"
    status = 500


class TemporaryMailError(MailError):
    """The message was not sent but may be later (4xx, connection trouble); RQ retries it."""

    code = "mail_temporary"
    status = 503
