"""A broadcast's outbox rows, made window by window (bot/fanout.py) as the senders need them.

A broadcast is for the residents its audience matches, up to the highest resident id when it
was made (up_to). Its first window of rows is made with it; the senders make the next one
whenever their queue runs low (queue_more, from bot/delivery.py). A province-wide message takes
12 hours to send at Telegram's 30 a second, so making a million rows at once would only hold
the database's write lock for nothing: this way the official's request returns at once, the
outbox holds about what the next minutes send, and each window is a few milliseconds' write.

How far the rows are made is kept on the broadcast (queued_through). Each window's rows and the
move of queued_through are one transaction, and the move is conditional on where it stood: two
senders, or a sender and the request, never make a resident's row twice, and a process killed
half-way leaves nothing half-made.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from admin_api.audience import recipients
from admin_api.schemas import Audience
from bot.fanout import custom_plans, window_end
from bot.models import Broadcast, OutboxMessage, Resident

CANCELLED = "cancelled"   # Broadcast.status after an official's cancel


def last_resident_id(session: Session) -> int:
    return session.scalar(select(func.max(Resident.id))) or 0


def first_window(session: Session, broadcast: Broadcast, batch: int | None = None) -> int:
    """Makes a new broadcast's first window of rows in the caller's transaction, the one that
    stores the broadcast: if either fails, neither is kept, and the official sees one error
    rather than a broadcast that goes out later. Returns the rows made."""
    ids = recipients(Audience(**broadcast.audience))
    end = window_end(session, ids.where(Resident.id <= broadcast.up_to), 0, batch)
    end = broadcast.up_to if end is None else end
    made = _make_rows(session, broadcast.id, broadcast.due_at, ids, 0, end)
    broadcast.queued_through = end
    return made


def queue_broadcast(session: Session, broadcast_id: int, batch: int | None = None,
                    windows: int | None = None) -> int:
    """Makes the broadcast's next `windows` windows of rows (all that is left, by default),
    committing each; returns the rows this call made. Stops when the broadcast is cancelled."""
    row = session.execute(select(Broadcast.audience, Broadcast.up_to, Broadcast.due_at, Broadcast.queued_through)
                          .where(Broadcast.id == broadcast_id)).one()
    session.commit()
    audience_ids, up_to, due, after = recipients(Audience(**row.audience)), row.up_to, row.due_at, row.queued_through
    queued = 0
    while after < up_to and windows != 0:
        end = window_end(session, audience_ids.where(Resident.id <= up_to), after, batch)
        end = up_to if end is None else end
        session.commit()     # the read ends here; the write below is its own short transaction
        custom_plans(session)
        moved = session.execute(update(Broadcast)
                                .where(Broadcast.id == broadcast_id, Broadcast.queued_through == after,
                                       Broadcast.status != CANCELLED)
                                .values(queued_through=end))
        if moved.rowcount != 1:      # cancelled, or another process queued this window first
            session.rollback()
            state = session.execute(select(Broadcast.status, Broadcast.queued_through)
                                    .where(Broadcast.id == broadcast_id)).one()
            session.commit()
            if state.status == CANCELLED:
                return queued
            after = state.queued_through
            continue
        queued += _make_rows(session, broadcast_id, due, audience_ids, after, end)
        session.commit()
        after = end
        windows = None if windows is None else windows - 1
    return queued


def _make_rows(session: Session, broadcast_id: int, due: datetime, audience_ids, after: int, end: int) -> int:
    # Only the window's two bounds: with up_to as a third, SQLite walked from `after` to up_to.
    rows = audience_ids.where(Resident.id > after, Resident.id <= end).with_only_columns(
        literal("broadcast"), literal(broadcast_id), Resident.id, literal(due), literal("queued"), literal(0))
    # Counted from RETURNING: psycopg reports no rowcount for an INSERT ... SELECT.
    return len(session.execute(insert(OutboxMessage).from_select(
        ["kind", "broadcast_id", "resident_id", "due_at", "status", "attempts"], rows)
        .returning(OutboxMessage.id)).all())


def queue_more(sessions: sessionmaker[Session], now: datetime) -> int:
    """One more window of rows for each broadcast that is due and not fully made; the rows made."""
    with sessions() as session:
        unfinished = session.scalars(select(Broadcast.id).where(
            Broadcast.status != CANCELLED, Broadcast.queued_through < Broadcast.up_to, Broadcast.due_at <= now)
            .order_by(Broadcast.due_at, Broadcast.id)).all()
        return sum(queue_broadcast(session, broadcast_id, windows=1) for broadcast_id in unfinished)


def unmade(broadcast: Broadcast, made: int) -> int:
    """How many of the broadcast's recipients have no row yet (`made` rows have been made)."""
    if broadcast.status == CANCELLED or broadcast.queued_through >= broadcast.up_to:
        return 0
    return max(0, broadcast.recipients - made)
