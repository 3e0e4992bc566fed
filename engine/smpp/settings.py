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
    #: Seconds to wait for a submit_sm_resp / enquire_link_resp before the bind is dropped.
    response_timeout_s: float = Field(default=30.0, gt=0)
    #: Reconnect backoff doubles from 0.5 s up to this.
    reconnect_max_s: float = Field(default=30.0, gt=0)
    #: Pause after ESME_RTHROTTLED / ESME_RMSGQFUL (doubles while they continue, max 10 s); the
    #: bind also learns the SMSC's own rate from them and sends below it.
    throttle_backoff_s: float = Field(default=0.05, gt=0)
    #: Sends of one PDU that got a temporary error before the message counts as failed.
    max_attempts: int = Field(default=3, ge=1, le=20)
    registered_delivery: bool = True


class SmppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smscs: list[SmscSettings] = [SmscSettings()]
    #: After a crash with submits whose response never came: "never" resend, or "after_expiry".
    resend_uncertain: Literal["never", "after_expiry"] = "never"
    #: With "after_expiry": an uncertain SMS without a delivery report is queued again after this.
    uncertain_expiry_s: float = Field(default=900.0, gt=0)
    #: Name this sender claims rows under (default: host name); stable across restarts.
    node: str = ""
    #: Database poll interval when no wake-up arrives on Redis ``bnet:sms:wake``.
    poll_s: float = Field(default=1.0, gt=0)
