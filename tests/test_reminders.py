"""Lesson and report-deadline reminders on a simulated clock, and /caidat."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.models import OutboxMessage, Resident
from bot.scheduler import reminder_jobs
from tests.core_helpers import Chat, data_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
QUIET = (time(21), time(7))


def queued(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def learner(assistant, name: str, platform: str = "telegram") -> Chat:
    chat = Chat(assistant, name, platform=platform)
    chat.consent_and_skip_profile()
    chat.cmd("menu")
    chat.tap("o:vneid")
    chat.tap("s:vneid:1")
    return chat


def run(assistant, now: datetime) -> int:
    return reminder_jobs(assistant.sessions, assistant.knowledge, "Asia/Ho_Chi_Minh", QUIET, 3,
                         now=now.astimezone(timezone.utc))


def test_an_idle_learner_gets_one_gentle_reminder_a_week(assistant, sessions):
    learner(assistant, "101")
    today = datetime.now(TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    assert run(assistant, today + timedelta(days=1)) == 0          # not idle long enough
    assert run(assistant, today + timedelta(days=4)) == 1
    assert run(assistant, today + timedelta(days=4, hours=2)) == 0  # once
    assert run(assistant, today + timedelta(days=8)) == 0          # not again within the week
    assert run(assistant, today + timedelta(days=11, hours=1)) == 1
    [first, second] = queued(sessions)
    assert first.kind == "reminder" and "«" in first.text and "2/" in first.text
    assert first.buttons == [["▶️ Học tiếp", "s:vneid:1"], ["🔕 Đừng nhắc nữa", "rm:0"]]
    assert first.due_at == (today + timedelta(days=4)).astimezone(timezone.utc)


def test_reminders_wait_for_the_morning_and_skip_finished_or_opted_out(assistant, sessions):
    chat = learner(assistant, "102")
    learner(assistant, "103", platform="web")  # the web chat cannot be messaged unasked
    night = datetime.now(TZ).replace(hour=22, minute=30, second=0, microsecond=0) + timedelta(days=5)
    assert run(assistant, night) == 1
    [row] = queued(sessions)
    assert row.due_at.astimezone(TZ).time() == time(7, 0) and row.due_at > night
    # The reminder's own button turns them off; /caidat shows it and turns them on again.
    chat.press("rm:0")
    assert "🔔 Bật lời nhắc" in [b.label for b in chat.last[0].buttons[0]]
    later = night + timedelta(days=8)
    assert run(assistant, later) == 0
    [settings] = chat.cmd("caidat")
    assert "rm:1" in data_of([settings])
    chat.tap("rm:1")
    with sessions() as session:
        assert session.scalar(select(Resident.reminders).where(Resident.external_id == "102")) is True


def test_deadline_reminders_reach_officials_two_weeks_and_three_days_before(assistant, sessions):
    learner(assistant, "201")
    learner(assistant, "202")  # not an official: no deadline reminders
    with sessions() as session:
        session.execute(update(Resident).where(Resident.external_id == "201").values(official=True))
        session.commit()

    def deadlines(now: datetime) -> list[str]:
        run(assistant, now)
        return [r.text for r in queued(sessions) if r.kind == "deadline"]
    assert deadlines(datetime(2027, 5, 24, 9, 0, tzinfo=TZ)) == []
    [two_weeks] = deadlines(datetime(2027, 5, 25, 8, 30, tzinfo=TZ))
    assert "08/06/2027" in two_weeks and "14" in two_weeks and "6 tháng" in two_weeks
    assert len(deadlines(datetime(2027, 5, 25, 15, 0, tzinfo=TZ))) == 1   # once
    assert len(deadlines(datetime(2027, 6, 5, 8, 0, tzinfo=TZ))) == 2     # three days before
    texts = deadlines(datetime(2027, 11, 24, 8, 0, tzinfo=TZ))
    assert len(texts) == 3 and "08/12/2027" in texts[-1] and "năm" in texts[-1]
    assert {r.resident_id for r in queued(sessions) if r.kind == "deadline"} == {_id(sessions, "201")}


def _id(sessions, external: str) -> int:
    with sessions() as session:
        return session.scalar(select(Resident.id).where(Resident.external_id == external))
