"""Telecom admin API for the trunk pool: list with live stats, tune, take out, put back.

Mounted by the API app (``engine.api.app``) like the other feature routers; paths are
absolute (``/v1/trunks``). Changes are stored as ``TrunkConfig`` rows: every running dialer
reloads them within seconds without stopping a call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from engine.api.auth import Principal, require
from engine.api.deps import DbSession, Deps
from engine.dialer.trunk_admin import TUNABLE, effective_trunks, set_enabled, set_trunk

__all__ = ["router"]

router = APIRouter(tags=["trunks"])
Admin = Annotated[Principal, Depends(require("telecom-admin", "admin"))]


class TrunkView(BaseModel):
    name: str
    enabled: bool
    server: str
    endpoint: str
    max_channels: int
    max_cps: float
    prefixes: list[str]
    cost_per_minute_eur: float
    priority: int
    dial_mode: str
    #: Summed over the dialer nodes that reported in the last minute.
    live: dict[str, Any] = {}


def _live(deps: Any) -> dict[str, dict[str, Any]]:
    """Per-trunk stats from every dialer node (``bnet:dialer:trunks`` hash in Redis)."""
    if deps.redis is None:
        return {}
    try:
        raw = deps.redis.hgetall(deps.settings.dialer.stats_key)
    except Exception:  # stats are a nicety: the list must work with Redis down
        return {}
    out: dict[str, dict[str, Any]] = {}
    for blob in raw.values():
        node = json.loads(blob)
        for t in node.get("trunks", []):
            agg = out.setdefault(
                t["name"],
                {
                    "in_use": 0,
                    "attempts": 0,
                    "answered": 0,
                    "hold_s_total": 0.0,
                    "causes": {},
                    "breaker": {},
                },
            )
            agg["in_use"] += t["in_use"]
            agg["attempts"] += t["attempts"]
            agg["answered"] += t["answered"]
            agg["hold_s_total"] += t["mean_hold_s"] * t["answered"]
            agg["breaker"][node.get("node", "?")] = t["breaker"]
            for cause, n in t.get("causes", {}).items():
                agg["causes"][cause] = agg["causes"].get(cause, 0) + n
    for agg in out.values():
        done = sum(agg["causes"].values())
        agg["asr"] = round(agg["answered"] / done, 3) if done else None
        hold = agg.pop("hold_s_total")
        agg["mean_hold_s"] = round(hold / agg["answered"], 1) if agg["answered"] else None
    return out


@router.get("/v1/trunks", response_model=list[TrunkView])
def list_trunks(principal: Admin, deps: Deps, session: DbSession) -> list[TrunkView]:
    live = _live(deps)
    return [
        TrunkView(**t.model_dump(exclude={"contact"}), live=live.get(t.name, {}))
        for t in effective_trunks(session, deps.settings.dialer)
    ]


@router.get("/v1/trunks/stats")
def trunk_stats(principal: Admin, deps: Deps) -> dict[str, Any]:
    return {"trunks": _live(deps)}


@router.patch("/v1/trunks/{name}", response_model=TrunkView)
def patch_trunk(
    name: str,
    principal: Admin,
    deps: Deps,
    session: DbSession,
    changes: Annotated[dict[str, Any], Body(examples=[{"max_channels": 60, "enabled": False}])],
) -> TrunkView:
    """Tune a trunk (keys: the tunable settings, plus ``enabled``); a new name adds one."""
    enabled = changes.pop("enabled", None)
    settings = deps.settings.dialer
    by = f"api:{principal.name}"
    tunable = {
        k: (",".join(v) if k == "prefixes" and isinstance(v, list) else v)
        for k, v in changes.items()
    }
    if tunable or enabled is None:
        set_trunk(session, settings, name, tunable, by=by)
    if enabled is not None:
        set_enabled(session, settings, name, bool(enabled), by=by)
    session.commit()
    trunk = {t.name: t for t in effective_trunks(session, settings)}[name]
    return TrunkView(**trunk.model_dump(exclude={"contact"}), live=_live(deps).get(name, {}))


TUNABLE_KEYS = (*TUNABLE, "enabled")
