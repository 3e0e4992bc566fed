"""SMTP settings for follow-up, outcome and newsletter e-mail."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    #: Upgrade the connection with STARTTLS before AUTH and MAIL (refused if the server can't).
    starttls: bool = False
    #: Verify the server certificate (only switch off against a local test server).
    tls_verify: bool = True
    #: Extra CA bundle to trust, e.g. a company relay with its own CA.
    ca_file: Path | None = None
    #: Name sent in EHLO; None asks the OS for the host's FQDN.
    helo_name: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "Burgernet <noreply@burgernet.example>"
    #: Domain for Message-IDs; the sender's domain when unset.
    message_id_domain: str | None = None
    max_per_s: float = Field(default=20.0, gt=0)
    #: Seconds for connect and for every SMTP reply.
    timeout_s: float = Field(default=30.0, gt=0)
    #: Reconnect after this many messages; relays often cap messages per connection.
    max_per_connection: int = Field(default=100, ge=1)
    #: RQ retry delays (seconds) after a temporary (4xx or connection) failure.
    retry_intervals_s: list[int] = Field(default=[30, 120, 600, 1800, 3600], min_length=1)
    unsubscribe_base_url: str = "http://127.0.0.1:8080/v1/participants/unsubscribe"
    #: HMAC key for the unsubscribe tokens in List-Unsubscribe; required to send e-mail.
    unsubscribe_secret: SecretStr | None = None

    @field_validator("unsubscribe_base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")) or any(c.isspace() or c in "<>" for c in v):
            raise ValueError("must be an http(s) URL without spaces or angle brackets")
        return v

    @field_validator("retry_intervals_s")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(i < 1 for i in v):
            raise ValueError("retry intervals must be at least 1 second")
        return v
