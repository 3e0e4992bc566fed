"""``/v1/actions``: create (idempotent), list, get, and the dry-run estimate."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.actions.compose import plan_sms
from engine.actions.context import ActionContext, load_action
from engine.actions.deferred import finish
from engine.actions.dossier import canonical
from engine.actions.estimate import Estimate, estimate_selection
from engine.actions.models import ACTION_STATES, Action, IdempotencyRecord
from engine.actions.schemas import ActionCreate
from engine.actions.service import compose_texts, create_action, locate
from engine.api.auth import Principal, require
from engine.api.deps import AppDeps, DbSession, Deps
from engine.api.views import ActionCreated, ActionList, ActionOut, action_out
from engine.errors import Conflict, InvalidInput
from engine.store.base import utcnow

router = APIRouter(tags=["actions"])
Centralist = Annotated[Principal, Depends(require("centralist"))]
Reader = Annotated[Principal, Depends(require("centralist", "auditor"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def make_context(deps: AppDeps, principal: Principal) -> ActionContext:
    return ActionContext(settings=deps.settings, principal=principal, now=utcnow(),
                         selector=deps.selector, locator=deps.locator)


@router.post("/actions", status_code=201, response_model=ActionCreated)
def post_action(body: ActionCreate, principal: Centralist, deps: Deps, session: DbSession,
                response: Response, idempotency_key: IdempotencyKey = None) -> ActionCreated:
    """Create an action and (unless ``draft``) select and queue everyone in the area."""
    digest = hashlib.sha256(canonical(body.model_dump(mode="json")).encode()).hexdigest()
    if idempotency_key:
        _check_key(idempotency_key)
        replay = _replay(session, deps, principal, idempotency_key, digest)
        if replay is not None:
            response.status_code = 200
            return replay
    ctx = make_context(deps, principal)
    try:
        with session.begin():
            action, effects = create_action(session, ctx, body)
            if idempotency_key:
                session.add(IdempotencyRecord(key=idempotency_key, token_id=principal.token_id,
                                              request_hash=digest, action_id=action.id))
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its action.
        session.rollback()
        replay = _replay(session, deps, principal, idempotency_key or "", digest)
        if replay is None:
            raise
        response.status_code = 200
        return replay
    wave = {k: v for k, v in effects.progress.items() if k != "kind"} or None
    rest = finish(deps.session_factory, ctx, deps.redis, deps.queue, effects)
    return ActionCreated(**action_out(action).model_dump(), wave=merge_parts(wave, rest))


def merge_parts(first: dict[str, Any] | None, rest: dict[str, Any] | None
                ) -> dict[str, Any] | None:
    """One wave's counts from its nearest and rest parts."""
    if first is None or rest is None:
        return first
    merged = {**rest, "part": "all"}
    for key in ("targets", "calls", "sms", "skipped", "selected"):
        merged[key] = first.get(key, 0) + rest.get(key, 0)
    merged["regions"] = sorted(set(first.get("regions", [])) | set(rest.get("regions", [])))
    merged["outside_own_region"] = bool(first.get("outside_own_region")
                                        or rest.get("outside_own_region"))
    return merged


def _check_key(key: str) -> None:
    if not key.isprintable() or not key.strip():
        raise InvalidInput("Idempotency-Key must be printable text", code="invalid_idempotency_key")


def _replay(session: Session, deps: AppDeps, principal: Principal, key: str, digest: str
            ) -> ActionCreated | None:
    with session.begin():
        record = session.get(IdempotencyRecord, (key, principal.token_id))
        if record is None:
            return None
        created = record.created_at
        ttl = timedelta(seconds=deps.settings.api.idempotency_ttl_s)
        if (created if created.tzinfo else created.replace(tzinfo=utcnow().tzinfo)) + ttl \
                < utcnow():
            session.delete(record)
            return None
        if record.request_hash != digest:
            raise Conflict("this Idempotency-Key was used for a different request",
                           code="idempotency_key_reused")
        action = load_action(session, principal, record.action_id)
        return ActionCreated(**action_out(action).model_dump())


@router.get("/actions", response_model=ActionList)
def list_actions(
    principal: Reader, session: DbSession,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(ACTION_STATES) + ")$")] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ActionList:
    """Actions visible to the caller, newest first; ``from``/``to`` are inclusive dates."""
    stmt: Any = select(Action)
    if not principal.all_regions:
        stmt = stmt.where(Action.region == principal.region)
    if region:
        stmt = stmt.where(Action.region == region)
    if state:
        stmt = stmt.where(Action.state == state)
    if since:
        stmt = stmt.where(Action.created_at >= datetime.combine(since, time.min))
    if until:
        stmt = stmt.where(Action.created_at < datetime.combine(until + timedelta(days=1),
                                                               time.min))
    with session.begin():
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(Action.created_at.desc()).limit(limit)
                               .offset(offset)).all()
        return ActionList(items=[action_out(a) for a in rows], total=int(total))


@router.post("/actions/estimate")
def estimate_new(body: ActionCreate, principal: Centralist, deps: Deps,
                 session: DbSession) -> dict[str, Any]:
    """Dry run: who would be reached, SMS parts and encoding, time and cost; stores nothing."""
    ctx = make_context(deps, principal)
    with session.begin():
        _, _, sms, _ = compose_texts(ctx, body)
        where = locate(session, ctx, body)
        area = ctx.area(body.area, where.lat, where.lon)
        selection = ctx.select()(session, area.for_selection(), ctx.now,
                                 testers_only=body.kind == "test")
        est: Estimate = estimate_selection(session, ctx, selection, channels=body.channels,
                                           sms=sms, area=area)
    return {**est.as_dict(), "sms_text": sms,
            "sms_fits": plan_sms(sms, deps.settings.actions.sms_max_segments).fits}


@router.get("/actions/{action_id}", response_model=ActionOut)
def get_action(action_id: str, principal: Reader, session: DbSession) -> ActionOut:
    with session.begin():
        return action_out(load_action(session, principal, action_id))
