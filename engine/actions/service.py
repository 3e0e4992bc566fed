"""Creating, starting and expanding actions: selection and fan-out in one transaction.

Each function changes rows in the caller's session and returns the :class:`Effects` to
dispatch after the commit; the caller owns the transaction, so an error leaves nothing behind.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import compose, dossier, lifecycle
from engine.actions.area import AreaSpec, check_in_nl
from engine.actions.context import ActionContext
from engine.actions.effects import Effects
from engine.actions.fanout import write_wave
from engine.actions.models import KIND_PRIORITY, Action, ActionTarget
from engine.actions.ports import LocationLike, SelectionLike
from engine.actions.schemas import ActionCreate, AreaIn
from engine.api.auth import Forbidden, list_regions, region_of_municipality
from engine.geo.models import Pc4Area

#: A circle wider than this is fanned out in two steps: everyone within this radius in the
#: creating transaction, the rest of the area in a second one right after, so the dialer can
#: start on the nearest people while thousands of rows are still being selected and written.
FIRST_RADIUS_M = 500.0
#: ... and of those, at most this many (PC4-centroid addresses cluster at one point).
FIRST_TARGETS = 150


def compose_texts(ctx: ActionContext, req: ActionCreate) -> tuple[str, str, str, compose.SmsPlan]:
    """(signalement, voice script, sms text, sms plan); 422 on bad text or callback number."""
    signalement = compose.clean_text(req.signalement, what="signalement",
                                     max_len=compose.SIGNALEMENT_MAX, min_len=5)
    sms_source = signalement
    if req.sms_signalement is not None:
        sms_source = compose.clean_text(req.sms_signalement, what="sms_signalement",
                                        max_len=compose.SIGNALEMENT_MAX, min_len=5)
    callback = compose.check_callback_number(
        req.callback_number or ctx.settings.actions.callback_number)
    voice = compose.voice_script(signalement, callback)
    sms = compose.sms_text(sms_source, callback)
    return signalement, voice, sms, compose.plan_sms(sms, ctx.settings.actions.sms_max_segments)


def locate(session: Session, ctx: ActionContext, req: ActionCreate) -> LocationLike:
    loc = req.location
    if loc.lat is not None and loc.lon is not None:
        check_in_nl(loc.lat, loc.lon, what="incident location")
    return ctx.locate()(session, postcode=loc.postcode, lat=loc.lat, lon=loc.lon)


def create_action(
    session: Session, ctx: ActionContext, req: ActionCreate
) -> tuple[Action, Effects]:
    signalement, voice, sms, plan = compose_texts(ctx, req)
    if req.channels != "voice" and not plan.fits:
        raise compose.SmsTooLong(
            f"the SMS needs {plan.segments} parts ({plan.encoding}); at most "
            f"{plan.max_segments}: shorten the text or give sms_signalement")
    where = locate(session, ctx, req)
    area = ctx.area(req.area, where.lat, where.lon)
    region = region_of_municipality(session, where.municipality_code, ctx.settings.region_default)
    if not ctx.principal.may_see_region(region):
        raise Forbidden(f"{where.municipality or where.pc4} lies in region {region}, not yours",
                        code="outside_region")
    action = Action(
        id=uuid.uuid4().hex, kind=req.kind, state="draft",
        priority=req.priority if req.priority is not None else KIND_PRIORITY[req.kind],
        region=region, signalement=signalement, channels=req.channels,
        callback_number=req.callback_number or ctx.settings.actions.callback_number,
        lat=where.lat, lon=where.lon, place=where.place or where.municipality,
        area=area.to_json(), voice_script=voice, sms_text=sms,
        created_by=ctx.actor, created_at=ctx.now,
    )
    session.add(action)
    session.flush()
    dossier.append(session, action.id, actor=ctx.actor, kind="created", data={
        "kind": action.kind, "priority": action.priority, "region": region,
        "channels": action.channels, "signalement": signalement, "voice_script": voice,
        "sms_text": sms, "sms_segments": plan.segments, "sms_encoding": plan.encoding,
        "place": action.place, "municipality": where.municipality_code, "area": area.to_json(),
        "callback_number": action.callback_number, "draft": req.draft})
    effects = Effects(action.id, {"kind": "created"}, render_audio="voice" in _chan(action))
    if not req.draft:
        effects = start_action(session, ctx, action, record_start=False)
    return action, effects


def start_action(session: Session, ctx: ActionContext, action: Action, *,
                 record_start: bool = True) -> Effects:
    action.state = lifecycle.next_state(action.state, "start")
    action.started_at = ctx.now
    if record_start:  # launching a draft; a direct launch is in the "created" entry
        dossier.append(session, action.id, actor=ctx.actor, kind="started", data={})
    area = stored_area(action)
    split = area.kind == "circle" and area.radius_m > FIRST_RADIUS_M
    first = AreaSpec("circle", area.lat, area.lon, radius_m=FIRST_RADIUS_M) if split else area
    wave = select_wave(session, ctx, action, first, part="nearest" if split else "all",
                       limit=FIRST_TARGETS if split else None)
    return Effects(action.id, {"kind": "started", **wave}, wake_dialer=wave["calls"] > 0,
                   wake_sms=wave["sms"] > 0, render_audio="voice" in _chan(action),
                   rest_of_area=split)


def expand_action(
    session: Session, ctx: ActionContext, action: Action, area_in: AreaIn
) -> tuple[dict[str, Any], Effects]:
    """New area; the nearest new people are written now, the rest right after the commit."""
    action.state = lifecycle.next_state(action.state, "expand")
    area = ctx.area(area_in, action.lat, action.lon)
    before = action.area
    action.area = area.to_json()
    wave: dict[str, Any] = {"calls": 0, "sms": 0}
    if action.state == "running":
        wave = select_wave(session, ctx, action, area, part="nearest", limit=FIRST_TARGETS)
    dossier.append(session, action.id, actor=ctx.actor, kind="expanded",
                   data={"from": before, "to": action.area, **wave})
    effects = Effects(action.id, {"kind": "expanded", **wave},
                      wake_dialer=wave["calls"] > 0, wake_sms=wave["sms"] > 0,
                      rest_of_area=bool(wave.get("truncated")))
    return wave, effects


def select_wave(session: Session, ctx: ActionContext, action: Action, area: AreaSpec,
                *, part: str = "all", limit: int | None = None) -> dict[str, Any]:
    """Select everyone in ``area`` not yet targeted and write their work; dossier the counts.

    ``part`` "nearest"/"rest" marks the steps of a split fan-out (one wave in total); with
    ``limit`` only the nearest ``limit`` are written ("truncated" says some were left).
    """
    selection = select_new(session, ctx, action, area)
    entries = selection.entries if limit is None else selection.entries[:limit]
    result = write_wave(session, action, entries, now=ctx.now,
                        sms_segments=sms_segments(ctx, action), continue_wave=part == "rest")
    data = record_selection(session, ctx, action, area, result.as_dict(),
                            by_pc4=selection.count_by_pc4, part=part)
    if len(entries) < len(selection.entries):
        data["truncated"] = True
    return data


def select_new(session: Session, ctx: ActionContext, action: Action, area: AreaSpec
               ) -> SelectionLike:
    """Everyone in ``area`` whose number this action has not targeted yet, nearest first."""
    known = frozenset(session.scalars(
        select(ActionTarget.e164).where(ActionTarget.action_id == action.id)))
    return ctx.select()(session, area.for_selection(), ctx.now, exclude_e164=known,
                        testers_only=action.kind == "test")


def sms_segments(ctx: ActionContext, action: Action) -> int:
    return compose.plan_sms(action.sms_text, ctx.settings.actions.sms_max_segments).segments


def record_selection(session: Session, ctx: ActionContext, action: Action, area: AreaSpec,
                     counts: dict[str, Any], *, by_pc4: dict[str, int], part: str
                     ) -> dict[str, Any]:
    """The dossier entry of one selection: counts, area, regions reached."""
    regions = _regions_reached(session, ctx, by_pc4)
    data: dict[str, Any] = {
        **counts, "area": area.to_json(), "testers_only": action.kind == "test",
        "selected": counts["targets"] + counts.get("skipped", 0), "regions": regions,
        "outside_own_region": any(r != action.region for r in regions)}
    if part != "all":
        data["part"] = part
    dossier.append(session, action.id, actor=ctx.actor, kind="selection", data=data)
    return data


def _regions_reached(session: Session, ctx: ActionContext, by_pc4: dict[str, int]) -> list[str]:
    if not by_pc4:
        return []
    codes = set(session.scalars(
        select(Pc4Area.municipality_code).where(Pc4Area.pc4.in_(list(by_pc4)))))
    index = {code: r.name for r in list_regions(session) for code in r.municipality_codes}
    return sorted({index.get(c, ctx.settings.region_default) for c in codes})


def stored_area(action: Action) -> AreaSpec:
    a = action.area
    if a.get("type") == "polygon":
        rings = tuple(tuple((float(p[0]), float(p[1])) for p in r) for r in a["coordinates"])
        return AreaSpec("polygon", action.lat, action.lon, rings=rings)
    return AreaSpec("circle", float(a["lat"]), float(a["lon"]), radius_m=float(a["radius_m"]))


def _chan(action: Action) -> set[str]:
    return {"voice", "sms"} if action.channels == "both" else {action.channels}
