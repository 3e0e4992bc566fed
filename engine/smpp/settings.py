"""SMS centre connections (SMPP binds) and sending rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SmscSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "local"
    host: str = "127.0.0.1"
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = "bnet"
    password: str = "secret"
    system_type: str = ""
    binds: int = Field(default=1, ge=1, le=32)
    window: int = Field(default=50, ge=1, le=1_000)
    max_tps: float | None = Field(default=None, gt=0)
    enquire_link_s: float = Field(default=30.0, gt=0)
    concat: Literal["udh8", "udh16", "payload"] = "udh8"
    prefixes: list[str] = ["+31"]
    priority: int = Field(default=100, ge=0)
    source_addr: str = "Burgernet"
    simulated: bool = True
    enabled: bool = True


class SmppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smscs: list[SmscSettings] = [SmscSettings()]
    #: After a crash with submits whose response never came: "never" resend, or "after_expiry".
    resend_uncertain: Literal["never", "after_expiry"] = "never"
