"""Before launch: how many people per channel, SMS parts, time to reach everyone, cost.

Time is the lines bound from the design: N calls with mean hold time H over L lines take about
N·H/L, and never less than N divided by the total calls-per-second of the trunks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import compose
from engine.actions.area import AreaSpec
from engine.actions.context import ActionContext
from engine.actions.fanout import effective_channel
from engine.actions.ports import SelectionLike
from engine.config import Settings
from engine.store.ops import TrunkConfig

#: Ring time plus a ~40 s message plus menu: what one answered alert call holds a line.
MEAN_HOLD_S = 50.0


@dataclass
class Estimate:
    selected: int
    calls: int
    sms: int
    landline: int
    mobile: int
    sms_segments: int
    sms_encoding: str
    sms_warnings: list[str]
    lines: int
    calls_per_second: float
    #: None when no trunk is enabled: nobody can be called.
    seconds_to_reach_all: float | None
    cost_eur: float
    area: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def trunk_capacity(session: Session, settings: Settings) -> tuple[int, float, float]:
    """(lines, calls per second, mean cost per minute) over enabled trunks; store beats config."""
    rows = session.scalars(select(TrunkConfig).where(TrunkConfig.enabled.is_(True))).all()
    trunks = [r.settings for r in rows] or [t.model_dump() for t in settings.dialer.trunks
                                            if t.enabled]
    lines = sum(int(t.get("max_channels", 0)) for t in trunks)
    cps = sum(float(t.get("max_cps", 0)) for t in trunks)
    costs = [float(t.get("cost_per_minute_eur", settings.actions.cost_per_minute_eur))
             for t in trunks]
    cost = sum(costs) / len(costs) if costs else settings.actions.cost_per_minute_eur
    return lines, cps, cost


def estimate_selection(
    session: Session, ctx: ActionContext, selection: SelectionLike, *, channels: str,
    sms: str, area: AreaSpec,
) -> Estimate:
    calls = texts = landline = 0
    for entry in selection.entries:
        chan = effective_channel(channels, entry.channel, entry.phone_kind)
        landline += entry.phone_kind == "landline"
        calls += chan in ("voice", "both")
        texts += chan in ("sms", "both")
    plan = compose.plan_sms(sms, ctx.settings.actions.sms_max_segments)
    lines, cps, per_minute = trunk_capacity(session, ctx.settings)
    seconds: float | None = 0.0
    if calls:
        seconds = None if not lines or not cps else round(
            max(calls * MEAN_HOLD_S / lines, calls / cps), 1)
    cost = (calls * MEAN_HOLD_S / 60 * per_minute
            + texts * plan.segments * ctx.settings.actions.cost_per_sms_segment_eur)
    return Estimate(
        selected=len(selection.entries), calls=calls, sms=texts, landline=landline,
        mobile=len(selection.entries) - landline, sms_segments=plan.segments,
        sms_encoding=plan.encoding, sms_warnings=plan.warnings, lines=lines,
        calls_per_second=cps, seconds_to_reach_all=seconds,
        cost_eur=round(cost, 2), area=area.to_json())
