"""Broadcasts: preview the audience, queue the messages in the outbox, follow and cancel.

Sending is the delivery engine's job: it drains the outbox. A broadcast due in quiet hours
waits for their end unless it is urgent (a scam alert).

A broadcast's status is derived from its outbox rows on every read (see broadcast_state), so
it cannot drift from the messages; the broadcasts table stores only an official's cancel.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path
from sqlalchemy import case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from admin_api.audience import check_audience, recipients
from admin_api.broadcast_queue import CANCELLED, first_window, last_resident_id, unmade
from admin_api.deps import Caller, allow, audit, get_knowledge, get_session, get_settings
from admin_api.errors import ApiError
from admin_api.schemas import (Audience, BroadcastCreated, BroadcastIn, BroadcastPreview, BroadcastState,
                               BroadcastStatus)
from bot.channels.reach import reachable
from bot.i18n import N_
from bot.models import Broadcast, OutboxMessage, Resident
from bot.quiet import after_quiet_hours

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])
may_broadcast = allow("admin", "village")
ROW_STATES = ("queued", "sending", "sent", "failed", "blocked", "cancelled")   # an outbox row's status


def _scoped(caller: Caller, audience: Audience) -> Audience:
    """A village token broadcasts to its own village only."""
    if caller.role != "village":
        return audience
    if any(v != caller.village_id for v in audience.villages):
        raise ApiError(403, N_("This token may only reach its own village"), field="audience.villages")
    return audience.model_copy(update={"villages": [caller.village_id]})


def _due(body: BroadcastIn, settings) -> datetime:
    return due_at(body.send_at, body.urgent, settings)


def due_at(send_at: datetime | None, urgent: bool, settings) -> datetime:
    """When a broadcast goes out: the time asked for (local to the commune when it has no zone),
    never in the past, and after the quiet hours unless it is urgent."""
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(timezone.utc)
    when = send_at or now
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    when = max(when.astimezone(timezone.utc), now)
    return when if urgent else after_quiet_hours(when, tz, settings.quiet)


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
    recipients_now = recipients(audience)
    up_to = last_resident_id(session)
    count = session.scalar(select(func.count()).select_from(
        recipients_now.where(Resident.id <= up_to).subquery())) or 0
    broadcast = Broadcast(text=body.text, courses=body.courses, audience=audience.model_dump(), urgent=body.urgent,
                          requested_at=body.send_at, due_at=due, created_by=caller.name, recipients=count,
                          up_to=up_to, queued_through=0)
    session.add(broadcast)
    session.flush()
    # The first window of rows with it (a commune's whole audience, often); the senders make the
    # rest as they need them (admin_api/broadcast_queue.py). The text stays on the broadcast.
    first_window(session, broadcast)
    audit(session, caller, "broadcast.create", f"broadcast {broadcast.id}",
          {"recipients": count, "urgent": body.urgent, "audience": audience.model_dump()})
    session.commit()
    state = broadcast_state(broadcast, _tally(session, broadcast))
    return BroadcastCreated(id=broadcast.id, recipients=broadcast.recipients, due_at=due, status=state)


def _get(session: Session, caller: Caller, broadcast_id: int) -> Broadcast:
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise ApiError(404, N_("No broadcast with this id"), field="broadcast_id")
    if caller.role == "village" and broadcast.audience.get("villages") != [caller.village_id]:
        raise ApiError(403, N_("This token may only reach its own village"), field="broadcast_id")
    return broadcast


@dataclass(frozen=True)
class Tally:
    """A broadcast's outbox rows by status (in all, and by channel), and how many of the queued
    ones wait for a retry."""

    counts: dict[str, int]
    retrying: int
    channels: dict[str, dict[str, int]]


def _tally(session: Session, broadcast: Broadcast) -> Tally:
    # A queued row that was tried already (a timeout, a 5xx, a 429, a crash while sending) waits
    # for a retry. A 429 gives its attempt back but leaves last_error, hence both tests.
    tried = case((or_(OutboxMessage.attempts > 0, OutboxMessage.last_error.is_not(None)), 1), else_=0)
    rows = session.execute(
        select(Resident.platform, OutboxMessage.status, func.count(), func.sum(tried))
        .join(Resident, Resident.id == OutboxMessage.resident_id)
        .where(OutboxMessage.broadcast_id == broadcast.id).group_by(Resident.platform, OutboxMessage.status))
    counts, retrying = dict.fromkeys(ROW_STATES, 0), 0
    channels: dict[str, dict[str, int]] = {}
    for platform, status, count, tried_count in rows:
        counts[status] += count
        channels.setdefault(platform, dict.fromkeys(ROW_STATES, 0))[status] = count
        if status == "queued":
            retrying += int(tried_count or 0)
    # Recipients whose row the senders have not made yet (admin_api/broadcast_queue.py) wait too.
    counts["queued"] += unmade(broadcast, sum(counts.values()))
    return Tally(counts, retrying, dict(sorted(channels.items())))


def broadcast_state(broadcast: Broadcast, tally: Tally) -> BroadcastState:
    """queued: no message tried yet; sending: some have an outcome or are being tried, some are
    still to go; done: none left queued or sending (failed and blocked are outcomes too);
    cancelled: an official stopped it before it was done, and it stays so."""
    if broadcast.status == CANCELLED:
        return "cancelled"
    counts = tally.counts
    if not counts["queued"] and not counts["sending"]:
        return "done"
    started = tally.retrying or sum(counts.values()) > counts["queued"]   # some message tried, or past the queue
    return "sending" if started else "queued"


def _status(session: Session, broadcast: Broadcast) -> BroadcastStatus:
    tally = _tally(session, broadcast)
    return BroadcastStatus(
        id=broadcast.id, status=broadcast_state(broadcast, tally), text=broadcast.text, courses=broadcast.courses,
        audience=Audience(**broadcast.audience), urgent=broadcast.urgent, due_at=broadcast.due_at,
        created_at=broadcast.created_at, created_by=broadcast.created_by, recipients=broadcast.recipients,
        channels=tally.channels, **tally.counts)


@router.get("/{broadcast_id}", response_model=BroadcastStatus)
def read_broadcast(broadcast_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = Depends(may_broadcast),
                   session: Session = Depends(get_session)):
    return _status(session, _get(session, caller, broadcast_id))


def _mark_cancelled(session: Session, broadcast_id: int) -> bool:
    """Marks the broadcast cancelled unless it already is. A conditional UPDATE rather than a read
    then a write: of two cancels at once, exactly one marks it (PostgreSQL makes the second wait
    for the first's row lock, then finds the mark)."""
    marked = session.execute(update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status != CANCELLED)
                             .values(status=CANCELLED))
    return marked.rowcount == 1


def _cancel_queued(session: Session, broadcast_id: int) -> int:
    """Only rows still queued are stopped: sent, failed and blocked ones keep their outcome, and
    a row being sent ("sending") is already on its way to Telegram."""
    stopped = session.execute(update(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id,
                                                          OutboxMessage.status == "queued")
                              .values(status="cancelled"))
    return stopped.rowcount or 0


@router.post("/{broadcast_id}/cancel", response_model=BroadcastStatus)
def cancel_broadcast(broadcast_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = Depends(may_broadcast),
                     session: Session = Depends(get_session)):
    """Stops the messages still queued; sent, failed, blocked and being-sent ones stay as they are.

    A cancel must stop at least one message: when none is left queued (done, or only the last
    ones in flight) it is refused, so "cancelled" always means that some message was stopped."""
    broadcast = _get(session, caller, broadcast_id)
    # Rows the senders have not made yet are stopped too: none is made once it is cancelled.
    not_made = unmade(broadcast, session.scalar(select(func.count()).select_from(OutboxMessage)
                                                .where(OutboxMessage.broadcast_id == broadcast.id)) or 0)
    if not _mark_cancelled(session, broadcast.id):
        session.rollback()
        raise ApiError(409, N_("This broadcast is already cancelled"), field="broadcast_id")
    # Counted by the UPDATE itself, not read before it: the sender may claim rows meanwhile.
    stopped = _cancel_queued(session, broadcast.id) + not_made
    if not stopped:
        session.rollback()   # the mark would claim a cancel that stopped nothing
        raise ApiError(409, N_("This broadcast has no message left to cancel"), field="broadcast_id")
    audit(session, caller, "broadcast.cancel", f"broadcast {broadcast.id}", {"cancelled": stopped})
    session.commit()
    return _status(session, broadcast)


@router.post("/{broadcast_id}/resend-failed", response_model=BroadcastCreated, status_code=201)
def resend_failed(broadcast_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = Depends(may_broadcast),
                  session: Session = Depends(get_session), settings=Depends(get_settings)):
    """A new broadcast with the same text and buttons, to the residents whose message failed
    (not those who blocked the bot, nor a web chat whose notifications are gone: it would fail again). It goes now, or after quiet hours."""
    original = _get(session, caller, broadcast_id)
    failed = (select(OutboxMessage.resident_id)
              .join(Resident, Resident.id == OutboxMessage.resident_id)
              .where(OutboxMessage.broadcast_id == original.id, OutboxMessage.status == "failed",
                     Resident.active.is_(True), reachable()))
    due = due_at(None, original.urgent, settings)
    again = Broadcast(text=original.text, courses=original.courses, audience=original.audience,
                      urgent=original.urgent, due_at=due, created_by=caller.name)
    session.add(again)
    session.flush()
    session.execute(insert(OutboxMessage).from_select(
        ["kind", "broadcast_id", "resident_id", "due_at", "status", "attempts"],
        failed.with_only_columns(literal("broadcast"), literal(again.id), OutboxMessage.resident_id, literal(due),
                                 literal("queued"), literal(0))))
    again.recipients = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.broadcast_id == again.id)) or 0
    if not again.recipients:
        session.rollback()
        raise ApiError(409, N_("This broadcast has no failed message to send again"), field="broadcast_id")
    audit(session, caller, "broadcast.resend_failed", f"broadcast {again.id}",
          {"from": original.id, "recipients": again.recipients})
    session.commit()
    return BroadcastCreated(id=again.id, recipients=again.recipients, due_at=due,
                            status=broadcast_state(again, _tally(session, again)))


def failure_reasons(session: Session, broadcast_id: int) -> list[tuple[str, int]]:
    """Why messages failed, most common first (the couriers' neutral words, no personal data)."""
    rows = session.execute(
        select(OutboxMessage.last_error, func.count()).where(OutboxMessage.broadcast_id == broadcast_id,
                                                             OutboxMessage.status.in_(("failed", "blocked")))
        .group_by(OutboxMessage.last_error).order_by(func.count().desc()))
    return [(reason or "", int(count)) for reason, count in rows]
