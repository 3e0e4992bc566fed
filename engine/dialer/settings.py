"""Dialer settings: Asterisk servers and the trunk pool (hot-tunable copies live in the store)."""

from __future__ import annotations

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
