"""A resident's whole journey on Zalo, through `hocvuso serve`'s app and the fake Zalo Bot API:
typed numbers for buttons, on SQLite and PostgreSQL.

Consent, profile, the VNeID course and its quiz, a free-text question, a reminder that comes
by itself, a commune broadcast, an event announcement, and /xoadulieu. Zalo has no buttons: every choice is typed.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.events import queue_announcements
from bot.models import Completion, InboxUpdate, OutboxMessage, Progress, Resident
from bot.replies import Contact, Incoming
from bot.scheduler.reminders import queue_lesson_reminders
from tests.fakezalo import FakeZalo
from tests.zalo_helpers import choices, key_for, say, settle, zalo_app, zalo_env

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = "admin-token-for-zalo-tests-0123456789abcdef"
NEVER_QUIET = (time(0, 0), time(0, 0))   # an empty quiet period: the test passes at any hour
CHAT = "zl-4021"


def resident(sessions, chat: str = CHAT) -> Resident | None:
    with sessions() as session:
        return session.scalars(select(Resident).where(Resident.platform == "zalo",
                                                      Resident.external_id == chat)).one_or_none()


def test_the_whole_journey_with_typed_numbers(settings_for, assistant, sessions, knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    with FakeZalo() as fake, zalo_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN, **zalo_env(fake)), assistant) as api:
        # Zalo has no /start: whatever a new person writes first, the bot greets and asks consent.
        first = say(fake, CHAT, "chao ban a", replies=2)
        assert "Thuận Châu" in first[0]
        consent = first[-1]
        assert choices(consent) == {"1": "✅ Đồng ý", "2": "Không, cảm ơn"}
        assert resident(sessions) is None   # nothing kept before "yes"

        # Consent with "1", then the profile: village by number, then skip the rest.
        village_question = say(fake, CHAT, "1", replies=2)[-1]
        lan = resident(sessions)
        assert lan is not None and lan.first_name == "Lan"
        village = knowledge.villages[1]
        group_question = say(fake, CHAT, key_for(village_question, village.name))[-1]
        age_question = say(fake, CHAT, key_for(group_question, "Bỏ qua"))[-1]
        menu = say(fake, CHAT, key_for(age_question, "Bỏ qua"))[-1]
        assert resident(sessions).village_id == village.id

        # The VNeID course: "1 – Tiếp" through every step, then the quiz by its letters.
        step = say(fake, CHAT, key_for(menu, "VNeID"))[-1]
        assert course.steps[0].title in step
        for index in range(1, len(course.steps)):
            step = say(fake, CHAT, key_for(step, "Tiếp"))[-1]
            assert course.steps[index].title in step
        question = say(fake, CHAT, key_for(step, "kiểm tra"), replies=2)[-1]
        for i, item in enumerate(course.quiz.questions):
            assert item.question in question and set(choices(question) or {}) <= set("ABCD0")
            letter = "ABCD"[item.answer - 1]
            answered = say(fake, CHAT, letter.lower(), replies=2)   # a small letter works too
            assert "✅" in answered[0], answered
            question = answered[-1]
        with sessions() as session:
            assert session.scalar(select(Completion.course_id).where(Completion.resident_id == lan.id)) == "vneid"

        # A free-text question, typed the way residents type: the core's own answer comes back.
        asked = "cach lay lai mat khau vneid a"
        expected = assistant.handle(Contact("web", "probe-session-0001"), Incoming.message(asked))[0].text
        reply = say(fake, CHAT, asked)[0]
        assert reply.startswith(expected[:80])

        # A number that the last message did not offer changes nothing, and says so.
        unknown = next(str(n) for n in range(1, 30) if str(n) not in choices(reply))
        [refusal] = say(fake, CHAT, unknown)
        assert f"Số {unknown} " in refusal and "0" in refusal

        # A reminder, queued by the scheduler's own job and sent by the Zalo courier.
        say(fake, CHAT, "0")
        step = say(fake, CHAT, key_for(fake.texts(CHAT)[-1], "Dịch vụ công"))[-1]
        with sessions.begin() as session:
            long_ago = datetime.now(timezone.utc) - timedelta(days=5)
            session.execute(update(Resident).where(Resident.id == lan.id).values(last_seen_at=long_ago))
            session.execute(update(Progress).where(Progress.resident_id == lan.id).values(updated_at=long_ago))
        before = fake.reply_count(CHAT)
        assert queue_lesson_reminders(sessions, knowledge, TZ, NEVER_QUIET, datetime.now(timezone.utc), 3) == 1
        settle(fake, CHAT, before + 1)
        reminder = fake.texts(CHAT)[-1]
        assert "Lan" in reminder and "Dịch vụ công" in reminder
        resumed = say(fake, CHAT, key_for(reminder, "Học tiếp"))[-1]   # the reminder's own button
        assert knowledge.pack("vi").courses["dich-vu-cong"].steps[0].title in resumed

        # A broadcast from the commune, with a course button: it reaches Zalo and counts per channel.
        before = fake.reply_count(CHAT)
        created = api.post("/api/v1/broadcasts", headers={"Authorization": f"Bearer {ADMIN}"},
                           json={"text": "Thứ Bảy này có lớp hướng dẫn VNeID tại nhà văn hoá.",
                                 "courses": ["an-toan-mang"], "urgent": True})
        assert created.status_code == 201, created.text
        settle(fake, CHAT, before + 1)
        announcement = fake.texts(CHAT)[-1]
        assert "nhà văn hoá" in announcement
        status = api.get(f"/api/v1/broadcasts/{created.json()['id']}",
                         headers={"Authorization": f"Bearer {ADMIN}"}).json()
        assert status["channels"]["zalo"]["sent"] == 1 and status["sent"] == 1
        opened = say(fake, CHAT, key_for(announcement, "An toàn"))[-1]
        assert knowledge.pack("vi").courses["an-toan-mang"].steps[0].title in opened

        # An event: she asks to be reminded, and its announcement comes by itself.
        starts = (datetime.now(TZ) + timedelta(hours=2)).replace(second=0, microsecond=0, tzinfo=None)
        made = api.post("/api/v1/events", headers={"Authorization": f"Bearer {ADMIN}"},
                        json={"title": "Lớp học VNeID ở bản Tông Lạnh", "starts_at": starts.isoformat(),
                              "location": "Nhà văn hoá bản"})
        assert made.status_code == 201, made.text
        events = say(fake, CHAT, "/sukien")[-1]
        subscribed = say(fake, CHAT, key_for(events, "Nhắc tôi: Lớp học VNeID"))[-1]
        assert "Lớp học VNeID" in subscribed
        before = fake.reply_count(CHAT)
        with sessions() as session:
            assert queue_announcements(sessions, datetime.now(timezone.utc), TZ, NEVER_QUIET) == 1
        settle(fake, CHAT, before + 1)
        assert "Lớp học VNeID ở bản Tông Lạnh" in fake.texts(CHAT)[-1] and "📣" in fake.texts(CHAT)[-1]

        # /xoadulieu, confirmed by number: nothing about her is left.
        confirm = say(fake, CHAT, "/xoadulieu")[-1]
        say(fake, CHAT, key_for(confirm, "xoá"))
        assert resident(sessions) is None
        with sessions() as session:
            assert session.scalars(select(InboxUpdate).where(InboxUpdate.chat_id == CHAT)).all() == []
            assert session.scalars(select(OutboxMessage).where(OutboxMessage.resident_id == lan.id)).all() == []
