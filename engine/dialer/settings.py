"""Dialer settings: Asterisk servers and the trunk pool (hot-tunable copies live in the store)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AsteriskServer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "local"
    host: str = "127.0.0.1"
    port: int = Field(default=15038, ge=1, le=65535)
    username: str = "engine"
    secret: str = "engine-secret"
    #: Use the built-in simulator instead of a real Asterisk (demo, tests).
    simulated: bool = True


class TrunkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    server: str = "local"
    endpoint: str = "trunk"
    max_channels: int = Field(default=30, ge=1, le=10_000)
    max_cps: float = Field(default=10.0, gt=0, le=1_000)
    #: E.164 prefixes this trunk serves, e.g. "+316" (mobile), "+31" (all NL), "+" (all).
    prefixes: list[str] = ["+31"]
    cost_per_minute_eur: float = Field(default=0.02, ge=0)
    priority: int = Field(default=100, ge=0)
    enabled: bool = True
    #: "direct": Originate PJSIP/<number>@<endpoint>; "local": through Local/<number>@
    #: bnet-dial-<name>, where the dialplan's GROUP_COUNT line cap is the safety net (fact 17).
    dial_mode: Literal["direct", "local"] = "direct"
    #: SIP URI of the carrier (rendered into pjsip.conf by ``bnet asterisk render-config``).
    contact: str = "sip:127.0.0.1:15070"

    @field_validator("name", "endpoint", "server")
    @classmethod
    def _safe_token(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "-_." for c in v):
            raise ValueError("use letters, digits, '-', '_' or '.' only")
        return v


class DialerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    servers: list[AsteriskServer] = [AsteriskServer()]
    trunks: list[TrunkSettings] = [TrunkSettings(name="trunk1")]
    originate_timeout_s: int = Field(default=30, ge=5, le=120)
    caller_id: str = "Burgernet <08000011>"
    outbound_context: str = "bnet-outbound"
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = Field(default=14573, ge=1, le=65535)
    #: Name of this dialer node in attempt claims (several nodes share work through Redis).
    node_id: str = "dialer-1"
    #: Consecutive trunk failures (congestion, unreachable) that take a trunk out, and for how
    #: long before one probe call tries it again.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    originate_ack_timeout_s: float = Field(default=5.0, gt=0)
    max_call_s: float = Field(default=900.0, gt=0)
    #: Answering machines per action kind: "off" (no AMD), "leave_message" (after the beep) or
    #: "retry" (hang up and call again later).
    amd: dict[str, Literal["off", "leave_message", "retry"]] = {}
    #: Retry rules per outcome, overriding engine.dialer.outcomes.DEFAULT_RETRY_RULES:
    #: {"busy": {"delay_s": 120, "max_attempt_no": 3}, ...}; {} disables a retry.
    retry: dict[str, dict[str, float | bool]] = {}
    #: Redis key under which each node publishes its live trunk stats (JSON per node).
    stats_key: str = "bnet:dialer:trunks"
    #: Base URL Asterisk fetches the message from when no shared sounds dir is configured.
    media_base_url: str = "http://127.0.0.1:8080/media"
