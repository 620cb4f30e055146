"""Background jobs on APScheduler's AsyncIOScheduler, in the commune's time zone."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.models import ProcessedUpdate

log = logging.getLogger(__name__)

# Telegram stops redelivering an update after 24 hours; keep ids a week to be safe.
PROCESSED_UPDATE_RETENTION = timedelta(days=7)


def prune_processed_updates(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    cutoff = (now or datetime.now(timezone.utc)) - PROCESSED_UPDATE_RETENTION
    with sessions.begin() as session:
        result = session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
    log.info("pruned %d processed update ids", result.rowcount)
    return result.rowcount


def build_scheduler(sessions: sessionmaker[Session], timezone_name: str) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone_name)

    async def prune() -> None:
        await asyncio.to_thread(prune_processed_updates, sessions)

    scheduler.add_job(prune, "cron", hour=3, minute=17, id="prune_processed_updates",
                      replace_existing=True, coalesce=True, misfire_grace_time=3600)
    return scheduler
