"""Background jobs: pruning old update ids, on a schedule in the commune's time zone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from bot.models import ProcessedUpdate
from bot.scheduler import PROCESSED_UPDATE_RETENTION, build_scheduler, prune_processed_updates

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def add_updates(sessions, now: datetime, ages: dict[int, timedelta]) -> None:
    with sessions.begin() as s:
        for update_id, age in ages.items():
            s.add(ProcessedUpdate(source="telegram", update_id=update_id, processed_at=now - age))


def remaining(sessions) -> set[int]:
    with sessions() as s:
        return set(s.scalars(select(ProcessedUpdate.update_id)))


def test_prune_deletes_ids_older_than_seven_days(sessions):
    now = datetime.now(timezone.utc)
    assert PROCESSED_UPDATE_RETENTION == timedelta(days=7)
    add_updates(sessions, now, {
        1: timedelta(days=30),
        2: timedelta(days=7, minutes=1),
        3: timedelta(days=6, hours=23),
        4: timedelta(hours=1),
        5: timedelta(0),
        2**40: timedelta(days=8),  # Telegram update ids are 64-bit
    })
    assert prune_processed_updates(sessions, now) == 3
    assert remaining(sessions) == {3, 4, 5}
    assert prune_processed_updates(sessions, now) == 0  # nothing more to do
    assert prune_processed_updates(sessions, now + timedelta(days=7, hours=1)) == 3
    assert remaining(sessions) == set()


def test_prune_defaults_to_now(sessions):
    now = datetime.now(timezone.utc)
    add_updates(sessions, now, {10: timedelta(days=9), 11: timedelta(days=1)})
    assert prune_processed_updates(sessions) == 1
    assert remaining(sessions) == {11}


def test_redelivery_after_pruning_is_handled_again(assistant, sessions):
    """A pruned id is forgotten: the same id later is a new update (Telegram stops after 24 h)."""
    from bot.replies import Contact, Incoming

    contact = Contact("terminal", "prune-1", "Lan")
    assert assistant.handle(contact, Incoming.command("menu"), update=("telegram", 5))
    assert assistant.handle(contact, Incoming.command("menu"), update=("telegram", 5)) == []
    prune_processed_updates(sessions, datetime.now(timezone.utc) + timedelta(days=8))
    assert assistant.handle(contact, Incoming.command("menu"), update=("telegram", 5))


async def test_build_scheduler_runs_prune_at_0317_local(sessions):
    scheduler = build_scheduler(sessions, "Asia/Ho_Chi_Minh")
    assert isinstance(scheduler, AsyncIOScheduler)
    assert str(scheduler.timezone) == "Asia/Ho_Chi_Minh"
    [job] = scheduler.get_jobs()
    assert job.id == "prune_processed_updates"
    assert isinstance(job.trigger, CronTrigger)
    assert str(job.trigger.timezone) == "Asia/Ho_Chi_Minh"
    scheduler.start()
    try:
        job = scheduler.get_job("prune_processed_updates")
        when = job.next_run_time
        local = when.astimezone(TZ)
        assert (local.hour, local.minute, local.second) == (3, 17, 0)
        now = datetime.now(TZ)
        assert now < when <= now + timedelta(days=1)
        assert when.utcoffset() == timedelta(hours=7)
        # 03:17 in Hà Nội is 20:17 UTC the day before.
        assert (when.astimezone(timezone.utc).hour, when.astimezone(timezone.utc).minute) == (20, 17)

        # The job itself prunes, off the event loop.
        add_updates(sessions, datetime.now(timezone.utc), {1: timedelta(days=10), 2: timedelta(days=1)})
        await job.func()
        assert remaining(sessions) == {2}
    finally:
        scheduler.shutdown(wait=False)
