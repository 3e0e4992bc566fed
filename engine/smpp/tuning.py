"""SMSC settings as the telecom admin last set them (``SmscConfig`` rows over the config file).

The file gives each SMSC's starting values; ``bnet smsc set`` writes a row holding the full
settings, and the running SMS service reloads whenever a row's version changes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.smpp.settings import SmppSettings, SmscSettings
from engine.store.base import utcnow
from engine.store.ops import SmscConfig

#: Keys an admin may change at run time (connection identity stays in the config file).
TUNABLE = (
    "host",
    "port",
    "system_id",
    "password",
    "system_type",
    "binds",
    "window",
    "max_tps",
    "enquire_link_s",
    "concat",
    "prefixes",
    "priority",
    "source_addr",
    "response_timeout_s",
    "reconnect_max_s",
    "throttle_backoff_s",
    "max_attempts",
    "registered_delivery",
)


def effective(session: Session, smpp: SmppSettings) -> list[SmscSettings]:
    """File settings with every SmscConfig row applied (rows may also add SMSCs)."""
    by_name = {s.name: s for s in smpp.smscs}
    for row in session.scalars(select(SmscConfig)):
        base = by_name.get(row.name, SmscSettings(name=row.name))
        merged = {**base.model_dump(), **row.settings, "name": row.name, "enabled": row.enabled}
        try:
            by_name[row.name] = SmscSettings.model_validate(merged)
        except ValidationError:
            continue  # a row written by a newer version; keep the file values
    return list(by_name.values())


def versions(session: Session) -> dict[str, int]:
    return {name: v for name, v in session.execute(select(SmscConfig.name, SmscConfig.version))}


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in TUNABLE:
            raise InvalidInput(f"expected key=value with key one of {', '.join(TUNABLE)}: {pair}")
        out[key] = _value(key, raw)
    return out


def _value(key: str, raw: str) -> Any:
    if key == "prefixes":
        return [p.strip() for p in raw.split(",") if p.strip()]
    if key == "max_tps" and raw.lower() in ("", "none", "off"):
        return None
    if key == "registered_delivery":
        return raw.lower() in ("1", "true", "yes", "on")
    return raw


def update(
    session: Session, smpp: SmppSettings, name: str, changes: dict[str, Any], *, actor: str
) -> SmscSettings:
    """Validate and store new values for one SMSC; raises InvalidInput naming the bad key."""
    changes = dict(changes)
    current = {s.name: s for s in effective(session, smpp)}
    if name not in current:
        raise NotFound(f"no SMSC named {name!r} (known: {', '.join(sorted(current))})")
    enabled = changes.pop("enabled", current[name].enabled)
    try:
        new = SmscSettings.model_validate(
            {**current[name].model_dump(), **changes, "enabled": enabled}
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
    row = session.get(SmscConfig, name)
    stored = new.model_dump(exclude={"name", "enabled"})
    if row is None:
        session.add(SmscConfig(name=name, settings=stored, enabled=new.enabled, updated_by=actor))
    else:
        row.settings = stored
        row.enabled = new.enabled
        row.version += 1
        row.updated_at = utcnow()
        row.updated_by = actor
    session.flush()
    return new
