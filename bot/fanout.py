"""Queueing one message for many residents without holding the database's write lock.

A fan-out walks residents' ids in windows of about BATCH rows. It reads where the next window
ends (a read blocks no writer on SQLite in WAL mode, nor on PostgreSQL), then writes that
window with one INSERT ... SELECT in its own short transaction. Residents pressing buttons
meanwhile wait at most one window's write, a few milliseconds, instead of the whole fan-out.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

BATCH = 1000   # rows per write transaction: about 20 ms on SQLite


def custom_plans(session: Session) -> None:
    """PostgreSQL: plan this transaction's statements for their own values. The driver prepares
    a statement run five times, and PostgreSQL may then keep one plan for any values: for "the
    next window after id X" that plan read the whole progress table, 450 ms a window instead of
    25 ms (bench/bench_scale.py). Nor start parallel workers for a window of a thousand rows:
    starting them cost more than they saved. SET LOCAL ends with the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan; "
                             "SET LOCAL max_parallel_workers_per_gather = 0"))


def window_end(session: Session, ids: Select, after: int, batch: int | None = None) -> int | None:
    """The id that closes the next window of `ids` (a SELECT of one id column, ordered by
    nothing yet) above `after`: the batch-th id, or the last one; None when none is left."""
    batch = batch or BATCH
    custom_plans(session)
    column = ids.selected_columns[0]
    rest = ids.where(column > after)
    end = session.scalar(rest.order_by(column).offset(batch - 1).limit(1))
    return end if end is not None else session.scalar(rest.with_only_columns(func.max(column)))


def in_windows(sessions: sessionmaker[Session], ids: Select, write: Callable[[Session, int, int], int],
               after: int = 0, batch: int | None = None) -> int:
    """Calls write(session, after, end) for each window (after, end] of `ids`, each in its own
    transaction, and returns the sum of what write returned (the rows it queued)."""
    total = 0
    while True:
        with sessions() as session:
            end = window_end(session, ids, after, batch)
        if end is None:
            return total
        for attempt in range(3):
            try:
                with sessions.begin() as session:
                    custom_plans(session)
                    total += write(session, after, end)
                break
            except IntegrityError:
                # Another process queued some of this window meanwhile (a dedupe key): write
                # it again, now without theirs.
                if attempt == 2:
                    raise
        after = end
