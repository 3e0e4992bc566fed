"""Operations on one action: estimate, start, expand, update, cancel, close, dossier."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.context import ActionContext, load_action
from engine.actions.deferred import finish
from engine.actions.effects import Effects
from engine.actions.estimate import estimate_selection
from engine.actions.followups import cancel_action, close_action, update_action
from engine.actions.models import Action, ActionTarget, DossierEntry
from engine.actions.schemas import CancelIn, CloseIn, EstimateIn, ExpandIn, UpdateIn
from engine.actions.service import expand_action, start_action, stored_area
from engine.api.auth import Principal, require
from engine.api.deps import AppDeps, DbSession, Deps
from engine.api.routes_actions import make_context, merge_parts
from engine.api.views import OperationResult, action_out

router = APIRouter(tags=["actions"])
Centralist = Annotated[Principal, Depends(require("centralist"))]
DossierReader = Annotated[Principal, Depends(require("centralist", "auditor"))]
Operation = Callable[[Session, ActionContext, Action], tuple[dict[str, Any], Effects]]


def _run(deps: AppDeps, principal: Principal, session: Session, action_id: str,
         operation: Operation) -> OperationResult:
    """One operation in one transaction; effects go out only after the commit."""
    ctx = make_context(deps, principal)
    with session.begin():
        action = load_action(session, principal, action_id, lock=True)
        result, effects = operation(session, ctx, action)
    rest = finish(deps.session_factory, ctx, deps.redis, deps.queue, effects)
    return OperationResult(action=action_out(action),
                           result=merge_parts(result, rest) or result)


@router.post("/actions/{action_id}/start", response_model=OperationResult)
def start(action_id: str, principal: Centralist, deps: Deps, session: DbSession
          ) -> OperationResult:
    """Launch a draft: select everyone in its area and queue calls and SMS."""
    def op(s: Session, ctx: ActionContext, a: Action) -> tuple[dict[str, Any], Effects]:
        effects = start_action(s, ctx, a)
        return {k: v for k, v in effects.progress.items() if k != "kind"}, effects
    return _run(deps, principal, session, action_id, op)


@router.post("/actions/{action_id}/expand", response_model=OperationResult)
def expand(action_id: str, body: ExpandIn, principal: Centralist, deps: Deps,
           session: DbSession) -> OperationResult:
    """New area; only participants not yet selected for this action are added (a new wave)."""
    return _run(deps, principal, session, action_id,
                lambda s, ctx, a: expand_action(s, ctx, a, body.area))


@router.post("/actions/{action_id}/update", response_model=OperationResult)
def update(action_id: str, body: UpdateIn, principal: Centralist, deps: Deps,
           session: DbSession) -> OperationResult:
    """New information to everyone already reached, on the channel that reached them."""
    return _run(deps, principal, session, action_id,
                lambda s, ctx, a: update_action(s, ctx, a, body))


@router.post("/actions/{action_id}/cancel", response_model=OperationResult)
def cancel(action_id: str, principal: Centralist, deps: Deps, session: DbSession,
           body: CancelIn | None = None) -> OperationResult:
    """Stop all pending calls and SMS now; ringing calls are hung up by the dialer."""
    return _run(deps, principal, session, action_id,
                lambda s, ctx, a: cancel_action(s, ctx, a, body or CancelIn()))


@router.post("/actions/{action_id}/close", response_model=OperationResult)
def close(action_id: str, body: CloseIn, principal: Centralist, deps: Deps,
          session: DbSession) -> OperationResult:
    """Close with an outcome: outcome message to everyone reached, e-mail to who asked for it."""
    return _run(deps, principal, session, action_id,
                lambda s, ctx, a: close_action(s, ctx, a, body))


@router.post("/actions/{action_id}/estimate")
def estimate(action_id: str, principal: Centralist, deps: Deps, session: DbSession,
             body: EstimateIn | None = None) -> dict[str, Any]:
    """Estimate for expanding to ``area`` (only people not yet selected), or the current area."""
    ctx = make_context(deps, principal)
    with session.begin():
        action = load_action(session, principal, action_id)
        area = (ctx.area(body.area, action.lat, action.lon) if body and body.area
                else stored_area(action))
        known = frozenset(session.scalars(
            select(ActionTarget.e164).where(ActionTarget.action_id == action.id)))
        selection = ctx.select()(session, area.for_selection(), ctx.now, exclude_e164=known,
                                 testers_only=action.kind == "test")
        est = estimate_selection(session, ctx, selection, channels=action.channels,
                                 sms=action.sms_text, area=area)
        return {**est.as_dict(), "already_selected": len(known)}


@router.get("/actions/{action_id}/dossier", response_model=None)
def get_dossier(action_id: str, principal: DossierReader, session: DbSession,
                format: Annotated[Literal["json", "csv"], Query()] = "json",
                ) -> Response | dict[str, Any]:
    """The hash-chained dossier, with its verification result; CSV for spreadsheets."""
    with session.begin():
        load_action(session, principal, action_id)
        check = dossier.verify(session, action_id)
        rows = session.scalars(select(DossierEntry).where(DossierEntry.action_id == action_id)
                               .order_by(DossierEntry.seq)).all()
        entries = [entry_dict(r) for r in rows]
    if format == "csv":
        return Response(entries_csv(entries), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="dossier-{action_id}.csv"'})
    return {"action_id": action_id, "verified": check.ok, "entries": entries,
            "problem": check.reason or None, "first_bad_seq": check.first_bad_seq}


def entry_dict(row: DossierEntry) -> dict[str, Any]:
    at = row.at.isoformat() + ("" if row.at.tzinfo else "Z")
    return {"seq": row.seq, "at": at, "actor": row.actor, "kind": row.kind, "data": row.data,
            "personal": row.personal, "pseudonymised": row.pseudonymised,
            "prev_hash": row.prev_hash, "hash": row.hash}


def entries_csv(entries: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["seq", "at", "actor", "kind", "data", "personal", "pseudonymised", "prev_hash",
              "hash"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for e in entries:
        row = {**e, "data": dossier.canonical(e["data"]),
               "personal": dossier.canonical(e["personal"]) if e["personal"] else ""}
        writer.writerow({k: _no_formula(v) for k, v in row.items()})
    return buf.getvalue()


def _no_formula(value: Any) -> Any:
    # A cell starting with = + - @ runs as a formula in spreadsheet programs.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
