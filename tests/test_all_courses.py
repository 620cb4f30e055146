"""Every course in knowledge/ can be completed: in the core, in the web chat and on Telegram."""
from __future__ import annotations

import pytest

from bot.config import REPO_ROOT
from bot.content import load_knowledge
from bot.models import Completion, Resident
from tests.core_helpers import Chat, count
from tests.telegram_helpers import act, button_data, running_bot
from tests.test_telegram_journey import answer_all, consent_yes
from tests.test_webchat import WebResident, server  # noqa: F401  (fixture)

COURSE_IDS = [c.id for c in load_knowledge(REPO_ROOT / "knowledge").pack("vi").ordered_courses]


@pytest.fixture(params=COURSE_IDS)
def course(request, knowledge):
    return knowledge.pack("vi").courses[request.param]


def test_course_completes_in_the_core(assistant, sessions, course):
    me = Chat(assistant, f"core-{course.id}")
    me.consent_and_skip_profile()
    steps = me.walk_course(course)
    assert f"Bước {len(course.steps)}/{len(course.steps)}" in steps[-1][0].text
    result = me.take_quiz(course, right=True)
    assert "Chúc mừng" in result[-1].text
    assert count(sessions, Completion, course_id=course.id) == 1


def test_course_completes_in_the_web_chat(server, course):  # noqa: F811
    me = WebResident(server, f"web-{course.id}-0123456789")
    me.say("/start")
    for data in ("c:y", "ps:v", "ps:g", "ps:a", f"o:{course.id}"):
        me.press(data)
    for k in range(1, len(course.steps)):
        me.press(f"s:{course.id}:{k}")
    me.press(f"q:{course.id}")
    for i, question in enumerate(course.quiz.questions):
        [data] = [d for d in me.offered() if d.startswith("qa:") and d.split(":")[3] == str(i)
                  and d.split(":")[4] == str(question.answer - 1)]
        feedback, after = me.press(data)
        assert "Đúng rồi" in feedback["text"]
    assert "Chúc mừng" in after["text"] and course.title in after["text"]


async def test_course_completes_on_telegram(fake_api, assistant, sessions, course):
    chat = 3000 + COURSE_IDS.index(course.id)
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, chat)
        await act(fake_api, chat, lambda: fake_api.press(chat, f"o:{course.id}"), 1)
        for k in range(2, len(course.steps) + 1):
            await act(fake_api, chat, lambda: fake_api.press_label(chat, "Tiếp"), 1)
            assert f"Bước {k}/{len(course.steps)}" in fake_api.last(chat).text
        quiz = button_data(fake_api.last(chat), label="📝 Làm bài kiểm tra")
        await act(fake_api, chat, lambda: fake_api.press(chat, quiz), 2)
        result = await answer_all(fake_api, chat, course, correct=True)
    assert "Chúc mừng" in result.text
    with sessions() as session:
        rid = session.query(Resident.id).filter_by(external_id=str(chat)).scalar()
        assert session.get(Completion, (rid, course.id)) is not None
