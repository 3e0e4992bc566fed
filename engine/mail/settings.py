"""SMTP settings for follow-up and outcome e-mail."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "Burgernet <noreply@burgernet.example>"
    max_per_s: float = Field(default=20.0, gt=0)
    unsubscribe_base_url: str = "http://127.0.0.1:8080/v1/participants/unsubscribe"
