"""Unsubscribe tokens for List-Unsubscribe: ``<participant id>.<HMAC>``, nothing stored.

The API's one-click unsubscribe endpoint checks a token with :func:`participant_id_from_token`
using the same ``mail.unsubscribe_secret``; a token only ever unsubscribes its own participant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from engine.mail.errors import MailConfigError
from engine.mail.settings import MailSettings

TokenFor = Callable[[int], str]


def make_token(secret: str, participant_id: int) -> str:
    return f"{participant_id}.{_mac(secret, participant_id)}"


def participant_id_from_token(secret: str, token: str) -> int | None:
    """The participant a token was made for, or None for a forged or garbled token."""
    head, dot, mac = token.partition(".")
    if not dot or not head.isdigit() or len(head) > 18:
        return None
    pid = int(head)
    return pid if hmac.compare_digest(mac, _mac(secret, pid)) else None


def _mac(secret: str, participant_id: int) -> str:
    raw = hmac.new(secret.encode(), f"unsubscribe:{participant_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(raw.digest()[:18]).decode("ascii")


def token_provider(settings: MailSettings) -> TokenFor:
    """Token maker for these settings; refuses to run without a secret (fail fast)."""
    if settings.unsubscribe_secret is None or not settings.unsubscribe_secret.get_secret_value():
        raise MailConfigError(
            "mail.unsubscribe_secret is not set (BNET_MAIL__UNSUBSCRIBE_SECRET): e-mail needs "
            "a working unsubscribe link"
        )
    secret = settings.unsubscribe_secret.get_secret_value()
    return lambda participant_id: make_token(secret, participant_id)
