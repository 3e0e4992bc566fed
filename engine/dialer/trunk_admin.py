"""Trunk settings as the telecom admin tunes them: static config + ``TrunkConfig`` rows.

The static settings (``[dialer] trunks`` in the config file) are the defaults; a row in
``trunk_config`` (written by ``bnet trunks set``, the API) overrides them per trunk and wins
until removed. Running dialers poll the rows' versions and reload the pool in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dialer.settings import DialerSettings, TrunkSettings
from engine.errors import InvalidInput, NotFound
from engine.store.base import utcnow
from engine.store.ops import TrunkConfig

__all__ = ["TUNABLE", "effective_trunks", "set_enabled", "set_trunk", "versions"]

#: Keys an admin may change at run time (name and server identify the trunk).
TUNABLE = (
    "max_channels",
    "max_cps",
    "prefixes",
    "cost_per_minute_eur",
    "priority",
    "endpoint",
    "dial_mode",
    "contact",
    "server",
)


def effective_trunks(session: Session, settings: DialerSettings) -> list[TrunkSettings]:
    """Static trunks overlaid with the admin's rows (rows may also add new trunks)."""
    static = {t.name: t for t in settings.trunks}
    rows = {r.name: r for r in session.scalars(select(TrunkConfig))}
    out: list[TrunkSettings] = []
    for name in list(static) + [n for n in rows if n not in static]:
        base: dict[str, Any] = static[name].model_dump() if name in static else {"name": name}
        row = rows.get(name)
        if row is not None:
            base.update({k: v for k, v in row.settings.items() if k in TUNABLE})
            base["enabled"] = row.enabled
        out.append(TrunkSettings.model_validate(base))
    return out


def versions(session: Session) -> dict[str, int]:
    """Cheap change detection for running dialers."""
    return {
        str(n): int(v) for n, v in session.execute(select(TrunkConfig.name, TrunkConfig.version))
    }


def _parse(pairs: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in pairs.items():
        if key not in TUNABLE:
            raise InvalidInput(f"unknown trunk setting {key!r}; use one of {', '.join(TUNABLE)}")
        if key == "prefixes":
            out[key] = [p.strip() for p in str(raw).split(",") if p.strip()]
        else:
            out[key] = raw
    return out


def set_trunk(
    session: Session,
    settings: DialerSettings,
    name: str,
    changes: Mapping[str, Any],
    *,
    by: str,
) -> TrunkSettings:
    """Validate and store changes for one trunk (a new name creates a trunk)."""
    current = {t.name: t for t in effective_trunks(session, settings)}.get(name)
    base: dict[str, Any] = current.model_dump() if current else {"name": name}
    parsed = _parse({k: v for k, v in changes.items()})
    try:
        result = TrunkSettings.model_validate({**base, **parsed})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"trunk {name}: {where}: {first['msg']}") from exc
    _store(session, result, by)
    return result


def set_enabled(
    session: Session, settings: DialerSettings, name: str, on: bool, *, by: str
) -> None:
    current = {t.name: t for t in effective_trunks(session, settings)}.get(name)
    if current is None:
        raise NotFound(f"no trunk named {name!r}")
    _store(session, current.model_copy(update={"enabled": on}), by)


def _store(session: Session, trunk: TrunkSettings, by: str) -> None:
    row = session.get(TrunkConfig, trunk.name)
    data = {k: v for k, v in trunk.model_dump().items() if k in TUNABLE}
    if row is None:
        session.add(
            TrunkConfig(name=trunk.name, settings=data, enabled=trunk.enabled, updated_by=by)
        )
        return
    row.settings, row.enabled = data, trunk.enabled
    row.version += 1
    row.updated_at, row.updated_by = utcnow(), by
