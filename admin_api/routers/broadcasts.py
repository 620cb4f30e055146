"""Broadcasts: preview the audience, queue the messages in the outbox, follow and cancel.

Sending is the delivery engine's job: it drains the outbox. A broadcast due in quiet hours
waits for their end unless it is urgent (a scam alert).
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path
from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session

from admin_api.audience import check_audience, recipients
from admin_api.deps import Caller, allow, audit, get_knowledge, get_session, get_settings
from admin_api.errors import ApiError
from admin_api.schemas import Audience, BroadcastCreated, BroadcastIn, BroadcastPreview, BroadcastStatus
from bot.i18n import N_
from bot.models import Broadcast, OutboxMessage
from bot.quiet import after_quiet_hours

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])
may_broadcast = allow("admin", "village")
STATES = ("queued", "sent", "failed", "blocked", "cancelled")


def _scoped(caller: Caller, audience: Audience) -> Audience:
    """A village token broadcasts to its own village only."""
    if caller.role != "village":
        return audience
    if any(v != caller.village_id for v in audience.villages):
        raise ApiError(403, N_("This token may only reach its own village"), field="audience.villages")
    return audience.model_copy(update={"villages": [caller.village_id]})


def _due(body: BroadcastIn, settings) -> datetime:
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(timezone.utc)
    when = body.send_at or now
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    when = max(when.astimezone(timezone.utc), now)
    return when if body.urgent else after_quiet_hours(when, tz, settings.quiet)


def _check(body: BroadcastIn, session: Session, knowledge) -> None:
    check_audience(session, knowledge, body.audience)
    for i, course in enumerate(body.courses):
        if course not in knowledge.pack("vi").courses:
            raise ApiError(422, N_("{field} names an unknown id: {value}"), field=f"courses.{i}", value=course)


@router.post("/preview", response_model=BroadcastPreview)
def preview_broadcast(body: BroadcastIn, caller: Caller = Depends(may_broadcast),
                      session: Session = Depends(get_session), knowledge=Depends(get_knowledge),
                      settings=Depends(get_settings)):
    """The recipient count and when it would go out; nothing is queued."""
    audience = _scoped(caller, body.audience)
    _check(body, session, knowledge)
    count = session.scalar(select(func.count()).select_from(recipients(audience).subquery())) or 0
    return BroadcastPreview(recipients=count, due_at=_due(body, settings))


@router.post("", response_model=BroadcastCreated, status_code=201)
def create_broadcast(body: BroadcastIn, caller: Caller = Depends(may_broadcast),
                     session: Session = Depends(get_session), knowledge=Depends(get_knowledge),
                     settings=Depends(get_settings)):
    audience = _scoped(caller, body.audience)
    _check(body, session, knowledge)
    due = _due(body, settings)
    broadcast = Broadcast(text=body.text, courses=body.courses, audience=audience.model_dump(), urgent=body.urgent,
                          requested_at=body.send_at, due_at=due, created_by=caller.name)
    session.add(broadcast)
    session.flush()
    # One INSERT ... SELECT: the text stays on the broadcast, not copied per resident.
    session.execute(insert(OutboxMessage).from_select(
        ["kind", "broadcast_id", "resident_id", "due_at", "status", "attempts"],
        recipients(audience).add_columns(literal("broadcast"), literal(broadcast.id), literal(due),
                                         literal("queued"), literal(0))
        .with_only_columns(literal("broadcast"), literal(broadcast.id), recipients(audience).selected_columns[0],
                           literal(due), literal("queued"), literal(0))))
    broadcast.recipients = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast.id)) or 0
    audit(session, caller, "broadcast.create", f"broadcast {broadcast.id}",
          {"recipients": broadcast.recipients, "urgent": body.urgent, "audience": audience.model_dump()})
    session.commit()
    return BroadcastCreated(id=broadcast.id, recipients=broadcast.recipients, due_at=due, status=broadcast.status)


def _get(session: Session, caller: Caller, broadcast_id: int) -> Broadcast:
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise ApiError(404, N_("No broadcast with this id"), field="broadcast_id")
    if caller.role == "village" and broadcast.audience.get("villages") != [caller.village_id]:
        raise ApiError(403, N_("This token may only reach its own village"), field="broadcast_id")
    return broadcast


def _status(session: Session, broadcast: Broadcast) -> BroadcastStatus:
    counts = {s: c for s, c in session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.broadcast_id == broadcast.id)
        .group_by(OutboxMessage.status))}
    return BroadcastStatus(
        id=broadcast.id, status=broadcast.status, text=broadcast.text, courses=broadcast.courses,
        audience=Audience(**broadcast.audience), urgent=broadcast.urgent, due_at=broadcast.due_at,
        created_at=broadcast.created_at, created_by=broadcast.created_by, recipients=broadcast.recipients,
        **{s: counts.get(s, 0) + (counts.get("sending", 0) if s == "queued" else 0) for s in STATES})


@router.get("/{broadcast_id}", response_model=BroadcastStatus)
def read_broadcast(broadcast_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = Depends(may_broadcast),
                   session: Session = Depends(get_session)):
    return _status(session, _get(session, caller, broadcast_id))


@router.post("/{broadcast_id}/cancel", response_model=BroadcastStatus)
def cancel_broadcast(broadcast_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = Depends(may_broadcast),
                     session: Session = Depends(get_session)):
    """Stops the messages not sent yet. Messages already sent stay sent."""
    broadcast = _get(session, caller, broadcast_id)
    if broadcast.status != "queued":
        raise ApiError(409, N_("This broadcast is not queued any more"), field="broadcast_id")
    session.execute(update(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast.id,
                                                OutboxMessage.status == "queued").values(status="cancelled"))
    broadcast.status = "cancelled"
    audit(session, caller, "broadcast.cancel", f"broadcast {broadcast.id}")
    session.commit()
    return _status(session, broadcast)
