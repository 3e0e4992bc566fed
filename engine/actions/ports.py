"""What the action service needs from selection and geocoding, as structural types.

The real implementations live in ``engine.participants.selection`` and ``engine.geo.service``;
they are imported lazily so the service (and its tests) can run with stand-ins.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


class SelectedPhoneLike(Protocol):
    @property
    def participant_id(self) -> int: ...
    @property
    def e164(self) -> str: ...
    @property
    def phone_kind(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def distance_m(self) -> float: ...


class SelectionLike(Protocol):
    @property
    def entries(self) -> Sequence[SelectedPhoneLike]: ...
    @property
    def count_by_pc4(self) -> dict[str, int]: ...


class LocationLike(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def pc4(self) -> str: ...
    @property
    def place(self) -> str: ...
    @property
    def municipality_code(self) -> str: ...
    @property
    def municipality(self) -> str: ...


class Selector(Protocol):
    def __call__(
        self,
        session: Session,
        area: Any,
        at: datetime,
        *,
        exclude_e164: frozenset[str] = ...,
        testers_only: bool = ...,
    ) -> SelectionLike: ...


class Locator(Protocol):
    def __call__(
        self, session: Session, *, postcode: str | None, lat: float | None, lon: float | None
    ) -> LocationLike: ...


@dataclass(frozen=True)
class LocalCircle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class LocalPolygon:
    rings: list[list[tuple[float, float]]] = field(default_factory=list)


def circle(lat: float, lon: float, radius_m: float) -> Any:
    """The selection module's Circle, or an identical stand-in while it is absent."""
    cls = _selection_attr("Circle") or LocalCircle
    return cls(lat=lat, lon=lon, radius_m=radius_m)


def polygon(rings: list[list[tuple[float, float]]]) -> Any:
    cls = _selection_attr("Polygon") or LocalPolygon
    return cls(rings=rings)


def _selection_attr(name: str) -> Any:
    try:
        module = importlib.import_module("engine.participants.selection")
    except ImportError:
        return None
    return getattr(module, name, None)


class CachedGeo:
    """Selection and geocoding with the PC4 index kept in memory for ``ttl_s`` seconds.

    Loading ~4,000 centroids costs tens of milliseconds; per request that would eat most of
    the time budget from request to first queued call.
    """

    def __init__(self, ttl_s: float = 300.0) -> None:
        self._ttl_s = ttl_s
        self._index: Any = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._geo = importlib.import_module("engine.geo.service")
        self._selection = importlib.import_module("engine.participants.selection")
        # All selectable numbers in memory, brought up to date from the change log on each
        # selection; one per app, used by one request at a time.
        self._snapshot: Any = importlib.import_module(
            "engine.participants.snapshot").SelectionSnapshot()
        self._snapshot_lock = threading.Lock()

    def index(self, session: Session) -> Any:
        with self._lock:
            if self._index is None or time.monotonic() - self._loaded_at > self._ttl_s:
                self._index = self._geo.Pc4Index.load(session)
                self._loaded_at = time.monotonic()
            return self._index

    def warm(self, session: Session) -> None:
        """Build the selection snapshot now (seconds at national scale) rather than in the
        first action's request; call once at app start-up."""
        with self._snapshot_lock:
            self._snapshot.refresh(session)

    def select(self, session: Session, area: Any, at: datetime, *,
               exclude_e164: frozenset[str] = frozenset(), testers_only: bool = False
               ) -> SelectionLike:
        index = self.index(session)
        with self._snapshot_lock:
            result: SelectionLike = self._selection.select_participants(
                session, area, at, exclude_e164=exclude_e164, testers_only=testers_only,
                index=index, snapshot=self._snapshot)
        return result

    def locate(self, session: Session, *, postcode: str | None, lat: float | None,
               lon: float | None) -> LocationLike:
        result: LocationLike = self._geo.resolve_location(
            session, postcode=postcode, lat=lat, lon=lon, index=self.index(session))
        return result
