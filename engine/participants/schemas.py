"""Input shapes for relatiebeheer (API, CLI and CSV import share them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="home", max_length=20)
    postcode: str | None = Field(default=None, max_length=10)
    house_number: str = Field(default="", max_length=10)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    #: e.g. "ma-vr 08:00-17:00"; empty = always.
    window: str | None = Field(default=None, max_length=40)


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_ref: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phones: list[str] = Field(min_length=1, max_length=5)
    channel_pref: Literal["voice", "sms", "both"] = "both"
    email_followups: bool = False
    is_tester: bool = False
    addresses: list[AddressIn] = Field(min_length=1, max_length=5)


class ParticipantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phones: list[str] | None = Field(default=None, min_length=1, max_length=5)
    channel_pref: Literal["voice", "sms", "both"] | None = None
    email_followups: bool | None = None
    addresses: list[AddressIn] | None = Field(default=None, min_length=1, max_length=5)
