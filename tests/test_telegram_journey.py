"""Residents talking to the real python-telegram-bot Application through the fake Bot API.

Every test drives the bot only as a resident would (messages, button presses) and checks
what the resident sees and what the database keeps.
"""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.assistant import Assistant
from bot.db import make_engine, make_sessionmaker
from bot.models import (
    AnonymousCounter,
    Completion,
    ProcessedUpdate,
    Progress,
    QuizAnswer,
    QuizAttempt,
    Resident,
)
from tests.telegram_helpers import (
    APOLOGY,
    ENGLISH_APOLOGY,
    act,
    all_data,
    button_data,
    callback_update,
    deliver_twice,
    looks_vietnamese,
    running_bot,
    track_processed,
    wait_processed,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LETTERS = "ABCD"
MENU_DATA = {"o:vneid", "t", "h"}  # what every menu shows: the course, progress, help


@pytest.fixture
def course(knowledge):
    return knowledge.pack("vi").courses["vneid"]


def today() -> str:
    return datetime.now(TZ).strftime("%d/%m/%Y")


def rows(sessions, model, *where):
    with sessions() as session:
        return session.scalars(select(model).where(*where)).all()


def count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def resident(sessions, chat_id: int) -> Resident | None:
    with sessions() as session:
        return session.scalars(select(Resident).where(
            Resident.platform == "telegram", Resident.external_id == str(chat_id))).one_or_none()


def counters(sessions) -> dict[str, int]:
    with sessions() as session:
        return {c.name: c.count for c in session.scalars(select(AnonymousCounter))}


def no_apology(fake, chat_id: int) -> bool:
    """Nothing failed while handling this chat's updates (the error handler apologises)."""
    return all(APOLOGY not in m.text and ENGLISH_APOLOGY not in m.text.lower() for m in fake.chat(chat_id))


async def consent_yes(fake, chat_id: int, first_name: str = "Lan", skip_profile: bool = True) -> None:
    await act(fake, chat_id, lambda: fake.send_text(chat_id, "/start", first_name=first_name), 2)
    await act(fake, chat_id, lambda: fake.press(chat_id, "c:y", first_name=first_name), 2)
    if skip_profile:
        for data in ("ps:v", "ps:g", "ps:a"):
            await act(fake, chat_id, lambda data=data: fake.press(chat_id, data), 1)
        assert "o:vneid" in all_data(fake.last(chat_id))


async def open_course(fake, chat_id: int):
    await act(fake, chat_id, lambda: fake.press(chat_id, "o:vneid"), 1)
    return fake.last(chat_id)


async def go_to_quiz(fake, chat_id: int, course) -> None:
    """From any step message: jump to the last step, then press 'Làm bài kiểm tra'."""
    step_message = fake.last(chat_id)
    last = len(course.steps) - 1
    await act(fake, chat_id, lambda: fake.press(chat_id, f"s:vneid:{last}", step_message.message_id), 1)
    quiz_label = "📝 Làm bài kiểm tra"
    assert button_data(fake.last(chat_id), label=quiz_label) == "q:vneid"
    await act(fake, chat_id, lambda: fake.press_label(chat_id, quiz_label), 2)


def choice_for(question, correct: bool) -> int:
    """0-based option: the YAML answer (1-based) when correct, another option when not."""
    return question.answer - 1 if correct else question.answer % len(question.options)


async def answer_all(fake, chat_id: int, course, correct: bool):
    questions = course.quiz.questions
    for i, question in enumerate(questions):
        message = fake.last(chat_id)
        assert f"📝 Câu {i + 1}/{len(questions)}" in message.text
        assert question.question in message.text
        assert [label for row in message.buttons for label, _ in row] == [*LETTERS[:len(question.options)], "🔊 Nghe"]
        choice = choice_for(question, correct)
        data = button_data(message, label=LETTERS[choice])
        await act(fake, chat_id, lambda: fake.press(chat_id, data, message.message_id), 2)
        feedback = next(m for m in fake.chat(chat_id) if m.message_id == message.message_id)
        assert ("✅ Đúng rồi!" in feedback.text) is correct
        assert feedback.buttons == []  # the answered question cannot be answered again
    return fake.last(chat_id)


# ---- the whole journey ------------------------------------------------------------------

async def test_full_vneid_journey_with_consent(fake_api, assistant, sessions, knowledge, course):
    chat = 1101
    n = len(course.steps)
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start", first_name="Lò Thị Lan"), 2)
        greeting, consent = fake_api.chat(chat)
        assert "Xin chào" in greeting.text and knowledge.pack("vi").assistant.commune_name in greeting.text
        assert "Bạn có đồng ý để mình lưu tiến độ học không?" in consent.text
        assert consent.buttons == [[("✅ Đồng ý", "c:y"), ("Không, cảm ơn", "c:n")]]

        await act(fake_api, chat, lambda: fake_api.press(chat, "c:y", first_name="Lò Thị Lan"), 2)
        assert fake_api.chat(chat)[1].text.startswith("Cảm ơn bạn! Mình sẽ lưu tiến độ học")
        assert fake_api.chat(chat)[1].buttons == []  # the consent cannot be pressed again

        # Profile: real buttons, answered in place on one message.
        question = fake_api.last(chat)
        assert "Bạn ở bản, tiểu khu nào?" in question.text
        village = button_data(question, prefix="v:")
        await act(fake_api, chat, lambda: fake_api.press(chat, village), 1)
        assert "Bạn thuộc nhóm nào?" in fake_api.last(chat).text
        group = button_data(fake_api.last(chat), prefix="g:")
        await act(fake_api, chat, lambda: fake_api.press(chat, group), 1)
        assert "Bạn bao nhiêu tuổi?" in fake_api.last(chat).text
        age = button_data(fake_api.last(chat), prefix="a:")
        await act(fake_api, chat, lambda: fake_api.press(chat, age), 1)
        menu = fake_api.last(chat)
        assert menu.message_id == question.message_id and menu.edits == 3
        assert "Xong rồi! 🎉" in menu.text
        assert MENU_DATA <= set(all_data(menu))

        me = resident(sessions, chat)
        assert me is not None and me.first_name == "Lò Thị Lan" and me.consent_at is not None
        assert (me.village_id, me.group_id, me.age_band) == (
            village.split(":")[1], group.split(":")[1], age.split(":")[1])

        # The course. Step 1 has a picture (the two account levels): the picture, then the step as
        # a new message; every later step in place on that message.
        await act(fake_api, chat, lambda: fake_api.press(chat, "o:vneid"), 1)
        step_message = fake_api.last(chat)
        [picture] = fake_api.media[chat]
        assert picture.kind == "photo" and picture.caption == course.steps[0].caption
        assert picture.data.startswith(b"\x89PNG") and picture.message_id < step_message.message_id
        messages_before = len(fake_api.chat(chat))
        for k in range(1, n + 1):
            if k > 1:
                await act(fake_api, chat, lambda: fake_api.press_label(chat, "Tiếp"), 1)
            current = fake_api.last(chat)
            assert current.message_id == step_message.message_id
            assert f"📘 {course.title} · Bước {k}/{n}" in current.text
            assert course.steps[k - 1].title in current.text
            assert current.edits == k - 1  # one edit per step after the first
            assert len(fake_api.chat(chat)) == messages_before == 4
            labels = [label for row in current.buttons for label, _ in row]
            assert ("Tiếp ➡️" in labels) is (k < n)
            assert ("⬅️ Quay lại" in labels) is (k > 1)
            with sessions() as session:
                assert session.get(Progress, (me.id, "vneid")).step_index == k - 1

        # The quiz, every answer right (taken from the YAML, never hard-coded).
        await act(fake_api, chat, lambda: fake_api.press_label(chat, "Làm bài kiểm tra"), 2)
        assert fake_api.chat(chat)[3].text.startswith("Kiểm tra: ")
        result = await answer_all(fake_api, chat, course, correct=True)
        total = len(course.quiz.questions)
        assert f"Kết quả: đúng {total}/{total} câu (100%)." in result.text
        assert f"🎉 Chúc mừng! Bạn đã hoàn thành «{course.title}» ngày {today()}." in result.text
        assert len(fake_api.chat(chat)) == 4 + total + 1

        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/tiendo"), 1)
        progress = fake_api.last(chat)
        assert f"✅ {course.button}: đã hoàn thành ngày {today()}" in progress.text

        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)
        assert not any(d.startswith("s:") for d in all_data(fake_api.last(chat)))  # nothing to resume
        assert no_apology(fake_api, chat)

    completion = rows(sessions, Completion, Completion.resident_id == me.id)
    assert [(c.course_id, c.best_percent) for c in completion] == [("vneid", 100)]
    assert completion[0].completed_at.astimezone(TZ).date() == datetime.now(TZ).date()
    attempts = rows(sessions, QuizAttempt, QuizAttempt.resident_id == me.id)
    assert len(attempts) == 1
    assert attempts[0].passed is True and attempts[0].finished_at is not None
    assert (attempts[0].answered, attempts[0].correct, attempts[0].total) == (total, total, total)
    answers = rows(sessions, QuizAnswer, QuizAnswer.attempt_id == attempts[0].id)
    assert sorted(a.question_index for a in answers) == list(range(total))
    assert all(a.correct for a in answers)


async def test_failed_quiz_offers_retry_and_records_no_completion(fake_api, assistant, sessions, course):
    chat = 1201
    total = len(course.quiz.questions)
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, chat)
        await open_course(fake_api, chat)
        await go_to_quiz(fake_api, chat, course)
        result = await answer_all(fake_api, chat, course, correct=False)
        assert f"Kết quả: đúng 0/{total} câu (0%)." in result.text
        assert f"Cần đúng từ {course.quiz.pass_percent}% mới đạt" in result.text
        assert "Chúc mừng" not in result.text
        assert button_data(result, label="🔁 Làm lại") == "q:vneid"

        rid = resident(sessions, chat).id
        assert rows(sessions, Completion, Completion.resident_id == rid) == []
        [failed] = rows(sessions, QuizAttempt, QuizAttempt.resident_id == rid)
        assert failed.passed is False and failed.correct == 0 and failed.finished_at is not None

        await act(fake_api, chat, lambda: fake_api.press_label(chat, "Làm lại"), 2)
        result = await answer_all(fake_api, chat, course, correct=True)
        assert f"Kết quả: đúng {total}/{total} câu (100%)." in result.text
        assert "🎉 Chúc mừng! Bạn đã hoàn thành" in result.text
        assert no_apology(fake_api, chat)

    attempts = sorted(rows(sessions, QuizAttempt, QuizAttempt.resident_id == rid), key=lambda a: a.id)
    assert [a.passed for a in attempts] == [False, True]
    [done] = rows(sessions, Completion, Completion.resident_id == rid)
    assert done.course_id == "vneid" and done.best_percent == 100


async def test_no_consent_can_learn_but_nothing_personal_is_kept(fake_api, assistant, sessions, course):
    chat = 1301
    n = len(course.steps)
    total = len(course.quiz.questions)
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start"), 2)
        await act(fake_api, chat, lambda: fake_api.press(chat, "c:n"), 1)
        menu = fake_api.last(chat)
        assert menu.text.startswith("Không sao cả. Bạn vẫn xem được mọi bài học")
        assert MENU_DATA <= set(all_data(menu))

        await act(fake_api, chat, lambda: fake_api.press(chat, "o:vneid"), 1)
        assert f"Bước 1/{n}" in fake_api.last(chat).text
        for k in range(2, n + 1):
            await act(fake_api, chat, lambda: fake_api.press_label(chat, "Tiếp"), 1)
            assert f"Bước {k}/{n}" in fake_api.last(chat).text
        await act(fake_api, chat, lambda: fake_api.press_label(chat, "Làm bài kiểm tra"), 2)
        result = await answer_all(fake_api, chat, course, correct=True)
        assert f"Kết quả: đúng {total}/{total} câu (100%)." in result.text
        assert "Bạn chọn không lưu dữ liệu nên kết quả này không được ghi lại" in result.text

        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/tiendo"), 1)
        assert "Bạn đã chọn không lưu tiến độ" in fake_api.last(chat).text
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)
        assert not any(d.startswith("s:") for d in all_data(fake_api.last(chat)))  # no resume
        assert no_apology(fake_api, chat)

    for model in (Resident, Progress, QuizAttempt, QuizAnswer, Completion):
        assert count(sessions, model) == 0, model.__tablename__
    assert counters(sessions) == {"consent_no": 1, "course_open:vneid": 1,
                                  "quiz_start:vneid": 1, "quiz_pass:vneid": 1}


async def test_delete_my_data_removes_every_row_about_the_resident(fake_api, assistant, sessions, course):
    chat, neighbour = 1401, 1402
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, neighbour, first_name="Cầm")
        await open_course(fake_api, neighbour)

        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start", first_name="Quàng"), 2)
        await act(fake_api, chat, lambda: fake_api.press(chat, "c:y"), 2)
        for prefix in ("v:", "g:", "a:"):
            data = button_data(fake_api.last(chat), prefix=prefix)
            await act(fake_api, chat, lambda data=data: fake_api.press(chat, data), 1)
        await open_course(fake_api, chat)
        await go_to_quiz(fake_api, chat, course)
        await answer_all(fake_api, chat, course, correct=True)

        rid = resident(sessions, chat).id
        assert rows(sessions, Progress, Progress.resident_id == rid)
        attempts = rows(sessions, QuizAttempt, QuizAttempt.resident_id == rid)
        assert attempts and rows(sessions, QuizAnswer, QuizAnswer.attempt_id == attempts[0].id)
        assert rows(sessions, Completion, Completion.resident_id == rid)

        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/xoadulieu"), 1)
        ask = fake_api.last(chat)
        assert "Xoá rồi thì không lấy lại được" in ask.text
        assert ask.buttons == [[("🗑 Xoá hết", "x:y"), ("Không xoá", "x:n")]]
        await act(fake_api, chat, lambda: fake_api.press(chat, "x:y"), 1)
        done = fake_api.last(chat)
        assert done.message_id == ask.message_id
        assert done.text.startswith("Xong rồi. Mình đã xoá hết dữ liệu về bạn.")
        assert MENU_DATA <= set(all_data(done))

        # The bot no longer knows this resident.
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/tiendo"), 1)
        assert "Bạn đã chọn không lưu tiến độ" in fake_api.last(chat).text
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/xoadulieu"), 1)
        assert "Mình không lưu dữ liệu gì về bạn cả." in fake_api.last(chat).text
        assert no_apology(fake_api, chat)

    assert resident(sessions, chat) is None
    assert rows(sessions, Progress, Progress.resident_id == rid) == []
    assert rows(sessions, QuizAttempt, QuizAttempt.resident_id == rid) == []
    assert rows(sessions, QuizAnswer, QuizAnswer.attempt_id.in_([a.id for a in attempts])) == []
    assert rows(sessions, Completion, Completion.resident_id == rid) == []
    # Nothing about anyone but the neighbour is left; the neighbour keeps everything.
    assert count(sessions, QuizAnswer) == count(sessions, QuizAttempt) == count(sessions, Completion) == 0
    kept = resident(sessions, neighbour)
    assert kept is not None and kept.first_name == "Cầm"
    assert count(sessions, Resident) == 1
    assert [p.resident_id for p in rows(sessions, Progress)] == [kept.id]
    assert counters(sessions).get("data_deleted") == 1


# ---- input the bot cannot act on ----------------------------------------------------------

async def test_bad_input_gets_a_short_friendly_answer_and_the_menu(fake_api, assistant, sessions):
    chat = 1501
    expectations = [
        (lambda: fake_api.send_media(chat, "sticker"), "Nhãn dán đẹp quá!"),
        (lambda: fake_api.send_media(chat, "photo"), "Mình chưa xem được ảnh."),
        (lambda: fake_api.send_media(chat, "voice"), "Mình chưa nghe được tin nhắn thoại."),
        (lambda: fake_api.send_media(chat, "location"), "mình không cần vị trí của bạn"),
        (lambda: fake_api.send_text(chat, "ă" * 5000), "Tin nhắn dài quá"),
        (lambda: fake_api.send_text(chat, "/abc"), "Mình không biết lệnh /abc."),
        (lambda: fake_api.press(chat, "zz:1", fake_api.last(chat).message_id), "Nút này cũ rồi."),
        (lambda: fake_api.press(chat, "s:khong-co:1", fake_api.last(chat).message_id),
         "Bài này vừa được cập nhật."),
    ]
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start"), 2)
        for action, expected in expectations:
            sent_before = len(fake_api.chat(chat))
            await act(fake_api, chat, action, 1)
            reply = fake_api.last(chat)
            assert len(fake_api.chat(chat)) == sent_before + 1, expected  # a new message
            assert expected in reply.text
            assert looks_vietnamese(reply.text) and len(reply.text) < 300, reply.text
            assert MENU_DATA <= set(all_data(reply)), expected

        # A forged step number far beyond the lesson: a Vietnamese answer with a way back to
        # the menu, never a crash or a "Bước 1000".
        await act(fake_api, chat, lambda: fake_api.press(chat, "s:vneid:999", fake_api.last(chat).message_id), 1)
        reply = fake_api.last(chat)
        assert looks_vietnamese(reply.text) and "1000" not in reply.text
        assert "m" in all_data(reply) or MENU_DATA <= set(all_data(reply))

        # Still answering after all that.
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)
        assert "Bạn muốn học gì?" in fake_api.last(chat).text
        assert no_apology(fake_api, chat)
    assert count(sessions, Resident) == 0


async def test_group_chat_gets_no_reply(fake_api, assistant, sessions):
    group = -1001234567
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)
        ids = [fake_api.send_text(group, "/start", chat_type="group"),
               fake_api.send_text(group, "xin chào", chat_type="group")]
        await wait_processed(fake_api, seen, *ids)
        # The bot is fine and still talks in private.
        await act(fake_api, 1601, lambda: fake_api.send_text(1601, "/start"), 2)
    assert fake_api.chat(group) == []
    assert not [p for name, p in fake_api.calls if p.get("chat_id") == group]
    assert count(sessions, Resident) == 0


# ---- duplicates, double taps, ordering, load --------------------------------------------------

def start_command(chat_id: int, message_id: int) -> dict:
    return {"message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
                        "from": {"id": chat_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
                        "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}


async def test_redelivered_update_is_handled_once(fake_api, assistant, sessions):
    anon, member = 1701, 1702
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)

        # /start delivered twice: one greeting, one consent question.
        uid = deliver_twice(fake_api, start_command(anon, 90001))
        await wait_processed(fake_api, seen, uid, times=2)
        assert fake_api.reply_count(anon) == 2 and len(fake_api.chat(anon)) == 2

        # A button delivered twice by a resident who said no: one answer, one count.
        await act(fake_api, anon, lambda: fake_api.press(anon, "c:n"), 1)
        before = fake_api.reply_count(anon)
        uid = deliver_twice(fake_api, callback_update(fake_api, anon, "o:vneid", fake_api.last(anon)))
        await wait_processed(fake_api, seen, uid, times=2)
        assert fake_api.reply_count(anon) == before + 1
        assert counters(sessions)["course_open:vneid"] == 1

        # A step button delivered twice by a resident who said yes: one edit, one progress change.
        await consent_yes(fake_api, member)
        step = await open_course(fake_api, member)
        before, edits = fake_api.reply_count(member), step.edits
        uid = deliver_twice(fake_api, callback_update(fake_api, member, "s:vneid:3", step))
        await wait_processed(fake_api, seen, uid, times=2)
        assert fake_api.reply_count(member) == before + 1
        assert fake_api.last(member).edits == edits + 1 and "Bước 4/" in fake_api.last(member).text
        assert no_apology(fake_api, anon) and no_apology(fake_api, member)

    with sessions() as session:
        assert session.get(ProcessedUpdate, ("telegram", uid)) is not None
        rid = resident(sessions, member).id
        assert session.get(Progress, (rid, "vneid")).step_index == 3


async def test_double_tap_on_next_moves_one_step(fake_api, assistant, sessions, course):
    chat = 1801
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)
        await consent_yes(fake_api, chat)
        step = await open_course(fake_api, chat)
        assert f"Bước 1/{len(course.steps)}" in step.text
        next_data = button_data(step, label="Tiếp ➡️")
        ids = [fake_api.press(chat, next_data, step.message_id), fake_api.press(chat, next_data, step.message_id)]
        await wait_processed(fake_api, seen, *ids)
        assert f"Bước 2/{len(course.steps)}" in fake_api.last(chat).text
        assert fake_api.last(chat).message_id == step.message_id
        assert no_apology(fake_api, chat)
    rid = resident(sessions, chat).id
    with sessions() as session:
        assert session.get(Progress, (rid, "vneid")).step_index == 1


async def test_double_tap_on_a_quiz_answer_counts_once(fake_api, assistant, sessions, course):
    chat = 1802
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)
        await consent_yes(fake_api, chat)
        await open_course(fake_api, chat)
        await go_to_quiz(fake_api, chat, course)
        question = fake_api.last(chat)
        data = button_data(question, label=LETTERS[choice_for(course.quiz.questions[0], True)])
        ids = [fake_api.press(chat, data, question.message_id), fake_api.press(chat, data, question.message_id)]
        await wait_processed(fake_api, seen, *ids)
        second_questions = [m for m in fake_api.chat(chat) if "📝 Câu 2/" in m.text]
        assert len(second_questions) == 1
        assert no_apology(fake_api, chat)
    rid = resident(sessions, chat).id
    [attempt] = rows(sessions, QuizAttempt, QuizAttempt.resident_id == rid)
    assert (attempt.answered, attempt.correct) == (1, 1)
    answers = rows(sessions, QuizAnswer, QuizAnswer.attempt_id == attempt.id)
    assert [(a.question_index, a.correct) for a in answers] == [(0, True)]


async def test_quick_presses_are_handled_in_order(fake_api, assistant, sessions, course):
    chat = 1901
    n = len(course.steps)
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)
        await consent_yes(fake_api, chat)
        step = await open_course(fake_api, chat)
        shown: list[str] = []
        fake_api.on_reply = lambda chat_id, message: shown.append(message.text) if chat_id == chat else None
        ids = [fake_api.press(chat, f"s:vneid:{i}", step.message_id) for i in range(1, n)]
        await wait_processed(fake_api, seen, *ids)
        assert no_apology(fake_api, chat)
    headers = [text.split("\n")[0] for text in shown]
    assert headers == [f"📘 {course.title} · Bước {k}/{n}" for k in range(2, n + 1)]
    assert fake_api.last(chat).message_id == step.message_id
    rid = resident(sessions, chat).id
    with sessions() as session:
        assert session.get(Progress, (rid, "vneid")).step_index == n - 1 == 10


async def test_thirty_residents_at_once(fake_api, assistant, sessions):
    chats = {2000 + i: f"Dân {i}" for i in range(30)}
    async with running_bot(fake_api, assistant):
        for chat, name in chats.items():
            fake_api.send_text(chat, "/start", first_name=name)
        await fake_api.wait_for(lambda: all(fake_api.reply_count(c) >= 2 for c in chats), timeout=30)
        for chat, name in chats.items():
            fake_api.press(chat, "c:y", first_name=name)
        await fake_api.wait_for(lambda: all(fake_api.reply_count(c) >= 4 for c in chats), timeout=30)
    for chat in chats:
        messages = fake_api.chat(chat)
        assert len(messages) == 3, [m.text for m in messages]
        greeting, thanks, village = messages
        assert "Xin chào" in greeting.text
        assert thanks.text.startswith("Cảm ơn bạn! Mình sẽ lưu") and thanks.edits == 1
        assert "Bạn ở bản, tiểu khu nào?" in village.text
        assert fake_api.reply_count(chat) == 4
        assert no_apology(fake_api, chat)
    with sessions() as session:
        kept = {(r.external_id, r.first_name) for r in session.scalars(select(Resident))}
    assert kept == {(str(chat), name) for chat, name in chats.items()}


async def test_progress_survives_a_restart(fake_api, assistant, database_url, knowledge, course):
    chat = 2101
    n = len(course.steps)
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, chat)
        await open_course(fake_api, chat)
        for _ in range(3):
            await act(fake_api, chat, lambda: fake_api.press_label(chat, "Tiếp"), 1)
        assert f"Bước 4/{n}" in fake_api.last(chat).text

    engine = make_engine(database_url)
    try:
        fresh = Assistant(knowledge, make_sessionmaker(engine))
        async with running_bot(fake_api, fresh):
            await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)
            menu = fake_api.last(chat)
            first_label, first_data = menu.buttons[0][0]
            assert first_label == f"▶️ Học tiếp: {course.button} (4/{n})"
            assert first_data == "s:vneid:3"
            await act(fake_api, chat, lambda: fake_api.press(chat, first_data), 1)
            assert f"Bước 4/{n}" in fake_api.last(chat).text
            assert fake_api.last(chat).message_id == menu.message_id
    finally:
        engine.dispose()


# ---- when Telegram says no ----------------------------------------------------------------

async def test_old_message_that_cannot_be_edited_gets_a_new_message(fake_api, assistant, course):
    chat = 2201
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start"), 2)
        await act(fake_api, chat, lambda: fake_api.press(chat, "c:n"), 1)
        step = await open_course(fake_api, chat)
        fake_api.fail_next("editMessageText", 400, "Bad Request: message can't be edited")
        await act(fake_api, chat, lambda: fake_api.press_label(chat, "Tiếp"), 2)  # failed edit + new message
        fresh = fake_api.last(chat)
        assert fresh.message_id != step.message_id
        assert f"Bước 2/{len(course.steps)}" in fresh.text
        assert no_apology(fake_api, chat)


async def test_resident_who_blocked_the_bot_causes_no_error(fake_api, assistant):
    chat = 2202
    async with running_bot(fake_api, assistant) as app:
        seen = track_processed(app)
        fake_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        uid = fake_api.send_text(chat, "/menu")
        await wait_processed(fake_api, seen, uid)
        assert len(fake_api.calls_of("sendMessage")) == 1  # the refused reply, no apology after it
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)  # unblocked again
        assert "Bạn muốn học gì?" in fake_api.last(chat).text


async def test_telegram_error_gets_a_vietnamese_apology_and_the_bot_recovers(fake_api, assistant):
    chat = 2203
    async with running_bot(fake_api, assistant):
        fake_api.fail_next("sendMessage", 500, "Internal Server Error")
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 2)  # failed reply + apology
        apology = fake_api.last(chat)
        assert apology.buttons == []
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1)
        assert "Bạn muốn học gì?" in fake_api.last(chat).text
    # The resident reads Vietnamese: the apology must not be in English.
    assert ENGLISH_APOLOGY not in apology.text.lower(), apology.text
    assert looks_vietnamese(apology.text), apology.text


@pytest.mark.parametrize("content", [
    {"animation": {"file_id": "Fgif", "file_unique_id": "Ugif", "width": 320, "height": 240, "duration": 2},
     "document": {"file_id": "Fgif", "file_unique_id": "Ugif", "file_name": "a.mp4"}},
    {"dice": {"emoji": "🎲", "value": 4}},
], ids=["gif", "dice"])
async def test_other_message_kinds_get_a_vietnamese_answer(fake_api, assistant, content):
    chat = 2204
    message = {"message_id": 1, "date": int(time.time()),
               "chat": {"id": chat, "type": "private", "first_name": "Lan"},
               "from": fake_api.user(chat), **content}
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.push_raw({"message": message}), 1)
    reply = fake_api.last(chat)
    assert MENU_DATA <= set(all_data(reply))
    first_line = reply.text.split("\n")[0]
    assert looks_vietnamese(first_line), reply.text  # not "I can only read text and button taps."
