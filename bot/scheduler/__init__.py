"""Background jobs on APScheduler's AsyncIOScheduler, in the commune's time zone."""
from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.content import Knowledge
from bot.events import ensure_yearly_events, queue_announcements
from bot.models import AnswerVote, ProcessedUpdate, UnansweredQuestion
from bot.scheduler.reminders import queue_deadline_reminders, queue_lesson_reminders

log = logging.getLogger(__name__)

# How often a thread running Python hands the interpreter to another (CPython's default: 5 ms).
# A job's thread (a reminder wave: Python building thousands of texts) otherwise makes a
# resident's reply, which takes the interpreter back after each database call, wait up to 5 ms
# each time: over 100 ms a reply (bench/bench_scale.py). 1 ms costs the jobs little.
SWITCH_INTERVAL = 0.001


def share_the_interpreter() -> None:
    """For a process that runs jobs beside residents' replies (`hocvuso serve`)."""
    sys.setswitchinterval(SWITCH_INTERVAL)

# Telegram stops redelivering an update after 24 hours; keep ids a week to be safe.
PROCESSED_UPDATE_RETENTION = timedelta(days=7)


def prune_older_than(sessions: sessionmaker[Session], column, retention: timedelta,
                     now: datetime | None = None, zone: ZoneInfo | None = None) -> int:
    """Delete the rows of column's table whose column is older than the retention. With a
    zone, the column holds days there (a Date) and is compared with the cutoff's day."""
    cutoff = (now or datetime.now(timezone.utc)) - retention
    if zone is not None:
        cutoff = cutoff.astimezone(zone).date()
    table = column.class_
    with sessions.begin() as session:
        result = session.execute(delete(table).where(column < cutoff))
    log.info("pruned %d rows of %s", result.rowcount, table.__tablename__)
    return result.rowcount


def prune_processed_updates(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    return prune_older_than(sessions, ProcessedUpdate.processed_at, PROCESSED_UPDATE_RETENTION, now)


# Unanswered questions are for content editors, and carry no link to who asked; still, keep
# them no longer than they serve: 180 days spans one of the plan's six-monthly reporting
# periods, in which editors act on them. A question still being asked keeps its row (last_seen).
UNANSWERED_RETENTION = timedelta(days=180)


def prune_unanswered_questions(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    return prune_older_than(sessions, UnansweredQuestion.last_seen, UNANSWERED_RETENTION, now)


def prune_answer_votes(sessions: sessionmaker[Session], timezone_name: str, now: datetime | None = None) -> int:
    """Votes are read with the unanswered questions, by the same editors: the same retention."""
    return prune_older_than(sessions, AnswerVote.last_day, UNANSWERED_RETENTION, now, ZoneInfo(timezone_name))


def event_jobs(sessions: sessionmaker[Session], knowledge: Knowledge, timezone_name: str,
               quiet: tuple[time, time], now: datetime | None = None) -> int:
    """Make the yearly events (10/10) and queue the announcements that are due; returns rows queued."""
    tz = ZoneInfo(timezone_name)
    now = now or datetime.now(timezone.utc)
    with sessions() as session:
        ensure_yearly_events(session, knowledge, tz, now.astimezone(tz).date())
    queued = queue_announcements(sessions, now, tz, quiet)
    if queued:
        log.info("queued %d event announcements", queued)
    return queued


def reminder_jobs(sessions: sessionmaker[Session], knowledge: Knowledge, timezone_name: str,
                  quiet: tuple[time, time], idle_days: int, now: datetime | None = None) -> int:
    """Queue lesson reminders and report-deadline reminders that are due; returns rows queued."""
    tz = ZoneInfo(timezone_name)
    now = now or datetime.now(timezone.utc)
    queued = queue_lesson_reminders(sessions, knowledge, tz, quiet, now, idle_days)
    queued += queue_deadline_reminders(sessions, knowledge, tz, quiet, now)
    if queued:
        log.info("queued %d reminders", queued)
    return queued


def build_scheduler(sessions: sessionmaker[Session], timezone_name: str, knowledge: Knowledge | None = None,
                    quiet: tuple[time, time] = (time(21), time(7)), idle_days: int = 3) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone_name)
    if knowledge is not None:
        async def events() -> None:
            await asyncio.to_thread(event_jobs, sessions, knowledge, timezone_name, quiet)

        async def reminders() -> None:
            await asyncio.to_thread(reminder_jobs, sessions, knowledge, timezone_name, quiet, idle_days)

        # Every 10 minutes, and soon after start-up: schedules come from the database, so a
        # restart loses nothing, and a late run still queues what is due. Reminders are
        # queued outside quiet hours only (they would wait for the morning anyway).
        soon = datetime.now(timezone.utc) + timedelta(seconds=5)
        scheduler.add_job(events, "interval", minutes=10, id="events", replace_existing=True, coalesce=True,
                          max_instances=1, next_run_time=soon)
        scheduler.add_job(reminders, "cron", hour="8-20", minute="*/10", id="reminders", replace_existing=True,
                          coalesce=True, max_instances=1, misfire_grace_time=600)

    async def prune() -> None:   # the nightly housekeeping: these tables only ever grow otherwise
        await asyncio.to_thread(prune_processed_updates, sessions)
        await asyncio.to_thread(prune_unanswered_questions, sessions)
        await asyncio.to_thread(prune_answer_votes, sessions, timezone_name)

    scheduler.add_job(prune, "cron", hour=3, minute=17, id="prune_processed_updates",
                      replace_existing=True, coalesce=True, misfire_grace_time=3600)
    return scheduler
