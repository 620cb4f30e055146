"""Jobs that message many residents do it in short windows (bot/fanout.py), so that they never
hold the database: lesson reminders, event announcements and broadcasts, on SQLite and
PostgreSQL, with windows of a few rows. Each survives being cut short, and none queues a
resident twice, even with two processes at it."""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from admin_api.broadcast_queue import queue_broadcast, queue_more
from bot import fanout
from bot.events import queue_announcements
from bot.models import Broadcast, Event, EventSubscription, OutboxMessage, Progress, Resident
from bot.scheduler.reminders import queue_lesson_reminders
from tests.test_broadcast_status import (ANNOUNCEMENT, add_residents, api, cancel, counts, create,  # noqa: F401
                                         eventually, read, sender_running)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NEVER_QUIET = (time(0), time(0))
WINDOW = 3


@pytest.fixture(autouse=True)
def small_windows(monkeypatch):
    monkeypatch.setattr(fanout, "BATCH", WINDOW)


def idle_learners(sessions, n: int) -> datetime:
    """n residents on Telegram, each part-way through VNeID and idle for ten days; returns now."""
    now = datetime.now(timezone.utc)
    long_ago = now - timedelta(days=10)
    with sessions.begin() as session:
        for i in range(n):
            resident = Resident(platform="telegram", external_id=str(7000 + i), consent_at=long_ago,
                                consent_version="1", created_at=long_ago, last_seen_at=long_ago)
            session.add(resident)
            session.flush()
            session.add(Progress(resident_id=resident.id, course_id="vneid", step_index=2, started_at=long_ago,
                                 updated_at=long_ago))
    return now


def per_resident(sessions, kind: str) -> dict[int, int]:
    with sessions() as session:
        return dict(session.execute(select(OutboxMessage.resident_id, func.count())
                                    .where(OutboxMessage.kind == kind).group_by(OutboxMessage.resident_id)).all())


def test_reminders_go_in_windows_and_a_run_cut_short_is_finished_by_the_next(sessions, knowledge, monkeypatch):
    now = idle_learners(sessions, 8)
    writes = []
    real_begin = sessions.begin

    def dying_begin():          # the process is killed as it starts its third window's write
        writes.append(1)
        if len(writes) == 3:
            raise KeyboardInterrupt
        return real_begin()

    monkeypatch.setattr(sessions, "begin", dying_begin)
    with pytest.raises(KeyboardInterrupt):
        queue_lesson_reminders(sessions, knowledge, TZ, NEVER_QUIET, now, 3)
    monkeypatch.setattr(sessions, "begin", real_begin)
    assert per_resident(sessions, "reminder") == {rid: 1 for rid in range(1, 2 * WINDOW + 1)}   # two windows
    assert queue_lesson_reminders(sessions, knowledge, TZ, NEVER_QUIET, now + timedelta(minutes=10), 3) == 2
    assert queue_lesson_reminders(sessions, knowledge, TZ, NEVER_QUIET, now + timedelta(minutes=20), 3) == 0
    assert per_resident(sessions, "reminder") == {rid: 1 for rid in range(1, 9)}


def test_announcements_go_in_windows_and_never_twice(sessions):
    idle_learners(sessions, 7)
    now = datetime.now(TZ).replace(hour=12, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    with sessions.begin() as session:     # a week ahead: the "in one week" announcement is due
        event = Event(title="Lớp học VNeID", starts_at=now + timedelta(days=7))
        session.add(event)
        session.flush()
        session.add_all([EventSubscription(event_id=event.id, resident_id=rid) for rid in range(1, 8)])
    assert queue_announcements(sessions, now, TZ, NEVER_QUIET) == 7
    assert queue_announcements(sessions, now + timedelta(minutes=10), TZ, NEVER_QUIET) == 0
    assert per_resident(sessions, "event") == {rid: 1 for rid in range(1, 8)}


def made(sessions, broadcast_id: int) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage.resident_id).where(OutboxMessage.broadcast_id == broadcast_id)
                                    .order_by(OutboxMessage.resident_id)))


def test_a_broadcast_makes_its_first_window_at_once_and_the_rest_as_needed(api, sessions):
    add_residents(sessions, 10)
    created = create(api)
    assert created["recipients"] == 10 and created["status"] == "queued"
    assert made(sessions, created["id"]) == [1, 2, 3]
    assert counts(read(api, created["id"])) == {"queued": 10}       # the rows not made yet wait too
    assert queue_more(sessions, datetime.now(timezone.utc)) == WINDOW
    def make_the_rest():
        with sessions() as session:
            queue_broadcast(session, created["id"])

    threads = [threading.Thread(target=make_the_rest) for _ in range(2)]   # two senders at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made(sessions, created["id"]) == list(range(1, 11))
    assert queue_more(sessions, datetime.now(timezone.utc)) == 0
    assert counts(read(api, created["id"])) == {"queued": 10}


def test_cancelling_stops_the_rows_not_made_yet(api, sessions):
    add_residents(sessions, 10)
    created = create(api)
    stopped = cancel(api, created["id"])
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "cancelled" and stopped.json()["cancelled"] == WINDOW
    assert queue_more(sessions, datetime.now(timezone.utc)) == 0
    assert made(sessions, created["id"]) == [1, 2, 3]


def test_a_broadcast_not_due_yet_makes_no_more_rows(api, sessions):
    add_residents(sessions, 10)
    created = create(api, {**ANNOUNCEMENT, "send_at": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()})
    assert len(made(sessions, created["id"])) == WINDOW
    assert queue_more(sessions, datetime.now(timezone.utc)) == 0
    assert queue_more(sessions, datetime.now(timezone.utc) + timedelta(days=3)) == WINDOW


async def test_the_sender_makes_the_rest_and_everyone_gets_it_once(api, sessions, knowledge, fake_api):
    add_residents(sessions, 10)
    created = await asyncio.to_thread(create, api)
    async with sender_running(sessions, knowledge, fake_api, rate=200):
        done = await eventually(lambda: (body := read(api, created["id"]))["status"] == "done" and body)
    assert counts(done) == {"sent": 10} and len(fake_api.sent) == 10
    assert sorted(m.chat_id for m in fake_api.sent) == list(range(5000, 5010))
    with sessions() as session:
        assert session.get(Broadcast, created["id"]).queued_through >= 10
