"""Request bodies of the action operations (used by the HTTP layer and the service)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.actions.models import ACTION_KINDS

Kind = Literal["suspect", "missing_person", "witness_call", "prevention", "crisis", "test"]
Channels = Literal["voice", "sms", "both"]
assert set(Kind.__args__) == set(ACTION_KINDS)  # type: ignore[attr-defined]

#: Hard cap before the service's own checks: keeps absurd bodies from being processed at all.
_TEXT_CAP = 20_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Strict):
    """Incident location: a postcode (PC4 or PC6) or coordinates."""

    postcode: str | None = Field(default=None, pattern=r"^[1-9][0-9]{3} ?([A-Za-z]{2})?$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _one_way(self) -> LocationIn:
        has_coords = self.lat is not None and self.lon is not None
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon")
        if not has_coords and not self.postcode:
            raise ValueError("give a postcode or lat and lon")
        return self


class AreaIn(_Strict):
    """A circle (radius around the incident) or a GeoJSON Polygon's coordinates ([lon, lat])."""

    radius_m: float | None = Field(default=None, allow_inf_nan=False)
    polygon: list[list[list[float]]] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _not_both(self) -> AreaIn:
        if self.radius_m is not None and self.polygon is not None:
            raise ValueError("give radius_m or polygon, not both")
        return self


class ActionCreate(_Strict):
    kind: Kind
    signalement: str = Field(max_length=_TEXT_CAP)
    #: Shorter wording for the SMS when the signalement does not fit the segment budget.
    sms_signalement: str | None = Field(default=None, max_length=_TEXT_CAP)
    location: LocationIn
    area: AreaIn = AreaIn()
    channels: Channels = "both"
    priority: int | None = Field(default=None, ge=0, le=100)
    callback_number: str | None = Field(default=None, max_length=40)
    #: Create without selecting or sending anything; ``POST .../start`` launches it.
    draft: bool = False


class ExpandIn(_Strict):
    area: AreaIn


class EstimateIn(_Strict):
    area: AreaIn | None = None


class UpdateIn(_Strict):
    text: str = Field(max_length=_TEXT_CAP)


class CancelIn(_Strict):
    reason: str = Field(default="", max_length=_TEXT_CAP)
    #: Also hang up calls that are already answered (default: let them hear the message).
    hangup_answered: bool = False


class CloseIn(_Strict):
    outcome: str = Field(max_length=_TEXT_CAP)
    #: The fuller story for the follow-up e-mail.
    story: str = Field(default="", max_length=_TEXT_CAP)
