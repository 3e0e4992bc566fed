"""Update, cancel and close: messages to everyone already reached, and stopping pending work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.actions import compose, dossier, lifecycle
from engine.actions.context import ActionContext
from engine.actions.effects import Effects
from engine.actions.fanout import Reached, reached_targets, write_followups
from engine.actions.models import Action, ActionTarget, CallAttempt, EmailMessage, SmsMessage
from engine.actions.models_api import ActionMessage
from engine.actions.schemas import CancelIn, CloseIn, UpdateIn
from engine.participants.models import Participant

#: Work not yet handed to a trunk or SMSC; cancel/close may still withdraw it.
PENDING = ("queued",)


def update_action(session: Session, ctx: ActionContext, action: Action, req: UpdateIn
                  ) -> tuple[dict[str, Any], Effects]:
    action.state = lifecycle.next_state(action.state, "update")
    text = compose.clean_text(req.text, what="text", max_len=compose.SIGNALEMENT_MAX, min_len=5)
    voice, sms = compose.update_texts(text, started=action.started_at or action.created_at,
                                      place=action.place, callback=action.callback_number)
    plan = compose.plan_sms(sms, ctx.settings.actions.sms_max_segments)
    if not plan.fits:
        raise compose.SmsTooLong(f"the update SMS needs {plan.segments} parts; "
                                 f"at most {plan.max_segments}")
    purpose = _next_update_purpose(session, action.id)
    session.add(ActionMessage(action_id=action.id, purpose=purpose, voice_script=voice,
                              sms_text=sms, created_by=ctx.actor, created_at=ctx.now))
    reached = reached_targets(session, action.id)
    calls, texts = write_followups(session, action, reached, purpose=purpose, sms_text=sms,
                                   sms_segments=plan.segments, now=ctx.now)
    data = {"purpose": purpose, "text": text, "voice_script": voice, "sms_text": sms,
            "calls": calls, "sms": texts}
    dossier.append(session, action.id, actor=ctx.actor, kind="updated", data=data)
    return data, Effects(action.id, {"kind": "updated", "calls": calls, "sms": texts},
                         wake_dialer=calls > 0, wake_sms=texts > 0, render_audio=calls > 0)


def _next_update_purpose(session: Session, action_id: str) -> str:
    n = session.scalar(select(func.count()).select_from(ActionMessage).where(
        ActionMessage.action_id == action_id, ActionMessage.purpose.like("update%"))) or 0
    return "update" if n == 0 else f"update{n + 1}"


def withdraw_pending(session: Session, action_id: str) -> tuple[int, int]:
    """Mark every not-yet-sent call and SMS of the action cancelled (one statement each)."""
    calls: Any = session.execute(
        update(CallAttempt).where(CallAttempt.action_id == action_id,
                                  CallAttempt.state.in_(PENDING))
        .values(state="cancelled", outcome="cancelled"))
    texts: Any = session.execute(
        update(SmsMessage).where(SmsMessage.action_id == action_id,
                                 SmsMessage.state.in_(PENDING))
        .values(state="cancelled"))
    return int(calls.rowcount or 0), int(texts.rowcount or 0)


def cancel_action(session: Session, ctx: ActionContext, action: Action, req: CancelIn
                  ) -> tuple[dict[str, Any], Effects]:
    action.state = lifecycle.next_state(action.state, "cancel")
    reason = compose.clean_text(req.reason, what="reason", max_len=compose.OUTCOME_MAX,
                                min_len=0) if req.reason else ""
    action.ended_at = ctx.now
    calls, texts = withdraw_pending(session, action.id)
    data = {"reason": reason, "cancelled_calls": calls, "cancelled_sms": texts,
            "hangup_answered": req.hangup_answered}
    dossier.append(session, action.id, actor=ctx.actor, kind="cancelled", data=data)
    return data, Effects(action.id, {"kind": "cancelled"},
                         cancel={"hangup_answered": req.hangup_answered, "reason": "cancelled"})


def close_action(session: Session, ctx: ActionContext, action: Action, req: CloseIn
                 ) -> tuple[dict[str, Any], Effects]:
    action.state = lifecycle.next_state(action.state, "close")
    outcome = compose.clean_text(req.outcome, what="outcome", max_len=compose.OUTCOME_MAX,
                                 min_len=3)
    story = compose.clean_text(req.story, what="story", max_len=4000, min_len=0)
    started = action.started_at or action.created_at
    text = compose.outcome_text(outcome, started=started, place=action.place)
    plan = compose.plan_sms(text, ctx.settings.actions.sms_max_segments)
    action.outcome, action.ended_at = outcome, ctx.now
    withdrawn = withdraw_pending(session, action.id)
    session.add(ActionMessage(action_id=action.id, purpose="outcome", voice_script=text,
                              sms_text=text, created_by=ctx.actor, created_at=ctx.now))
    reached = reached_targets(session, action.id)
    calls, texts = write_followups(session, action, reached, purpose="outcome", sms_text=text,
                                   sms_segments=plan.segments, now=ctx.now)
    emails = _outcome_emails(session, action, reached, outcome, story)
    data = {"outcome": outcome, "message": text, "calls": calls, "sms": texts,
            "emails": len(emails), "withdrawn_calls": withdrawn[0], "withdrawn_sms": withdrawn[1]}
    dossier.append(session, action.id, actor=ctx.actor, kind="closed", data=data)
    effects = Effects(action.id, {"kind": "closed"}, wake_dialer=calls > 0, wake_sms=texts > 0,
                      render_audio=calls > 0, email_ids=emails)
    return data, effects


def _outcome_emails(session: Session, action: Action, reached: list[Reached], outcome: str,
                    story: str) -> list[int]:
    target_ids = [r.target_id for r in reached]
    if not target_ids:
        return []
    people = session.execute(
        select(Participant.id, Participant.email).distinct()
        .join(ActionTarget, ActionTarget.participant_id == Participant.id)
        .where(ActionTarget.id.in_(target_ids), Participant.email_followups.is_(True),
               Participant.email.is_not(None), Participant.status == "active")
    ).all()
    subject, body = compose.outcome_email(
        outcome, story=story, signalement=action.signalement,
        started=action.started_at or action.created_at, place=action.place)
    rows = [EmailMessage(action_id=action.id, participant_id=pid, address=email,
                         purpose="outcome", subject=subject, body_text=body)
            for pid, email in people if email]
    session.add_all(rows)
    session.flush()
    for row in rows:
        dossier.append(session, action.id, actor="system", kind="email_queued",
                       data={"email_id": row.id, "purpose": "outcome"},
                       personal={"participant_id": row.participant_id, "address": row.address})
    return [row.id for row in rows]
