"""What the action operations need besides a session: settings, selection, geocoding, actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions.area import AreaSpec, circle, polygon
from engine.actions.models import Action
from engine.actions.ports import Locator, Selector
from engine.actions.schemas import AreaIn
from engine.api.auth import Principal
from engine.config import Settings
from engine.errors import EngineError, NotFound


class ServiceUnavailable(EngineError):
    code = "service_unavailable"
    status = 503


@dataclass(frozen=True)
class ActionContext:
    settings: Settings
    principal: Principal
    now: datetime
    selector: Selector | None = None
    locator: Locator | None = None

    @property
    def actor(self) -> str:
        return self.principal.actor

    def select(self) -> Selector:
        if self.selector is None:
            raise ServiceUnavailable("participant selection is not installed",
                                     code="selection_unavailable")
        return self.selector

    def locate(self) -> Locator:
        if self.locator is None:
            raise ServiceUnavailable("geocoding is not installed", code="geo_unavailable")
        return self.locator

    def area(self, area: AreaIn | None, lat: float, lon: float) -> AreaSpec:
        max_r = self.settings.actions.max_radius_m
        if area is not None and area.polygon is not None:
            return polygon(area.polygon, max_r)
        radius = area.radius_m if area is not None else None
        if radius is None:
            radius = self.settings.actions.default_radius_m
        return circle(lat, lon, radius, max_r)


def load_action(session: Session, principal: Principal, action_id: str,
                *, lock: bool = False) -> Action:
    """The action if this principal's region may see it; otherwise 404 (do not reveal it)."""
    stmt: Any = select(Action).where(Action.id == action_id)
    if lock:
        stmt = stmt.with_for_update()
    action: Action | None = session.scalar(stmt)
    if action is None or not principal.may_see_region(action.region):
        raise NotFound(f"no action {action_id}", code="action_not_found")
    return action
