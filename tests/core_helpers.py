"""Helpers for driving the conversation core the way a resident would: tapping offered buttons."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.content import Course
from bot.replies import CALLBACK_DATA_MAX, Contact, Incoming, Reply

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TELEGRAM_TEXT_MAX = 4096
VI_CHARS = re.compile(
    r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.IGNORECASE)


def today_local() -> str:
    return datetime.now(TZ).strftime("%d/%m/%Y")


def data_of(replies: list[Reply]) -> list[str]:
    return [b.data for r in replies for row in r.buttons for b in row]


def labels_of(replies: list[Reply]) -> list[str]:
    return [b.label for r in replies for row in r.buttons for b in row]


def check_reply_limits(replies: list[Reply]) -> None:
    for reply in replies:
        assert isinstance(reply, Reply)
        assert reply.text.strip(), "a reply with empty text"
        assert len(reply.text) <= TELEGRAM_TEXT_MAX, f"reply text of {len(reply.text)} chars"
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                assert len(button.data.encode()) <= CALLBACK_DATA_MAX, button.data


def has_menu(reply: Reply, knowledge_pack) -> bool:
    data = {b.data for row in reply.buttons for b in row}
    return {f"o:{c.id}" for c in knowledge_pack.ordered_courses} <= data and {"t", "h"} <= data


def count(sessions, model, **where) -> int:
    with sessions() as s:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.scalar(stmt)


class Chat:
    """One resident talking to the core. `tap` only presses buttons the last answer offered."""

    def __init__(self, assistant, external_id: str, first_name: str | None = "Lan", platform: str = "terminal"):
        self.assistant = assistant
        self.contact = Contact(platform, external_id, first_name)
        self.log: list[Reply] = []
        self.last: list[Reply] = []

    def send(self, incoming: Incoming, update: tuple[str, int] | None = None) -> list[Reply]:
        replies = self.assistant.handle(self.contact, incoming, update=update)
        assert isinstance(replies, list)
        check_reply_limits(replies)
        self.log.extend(replies)
        if replies:
            self.last = replies
        return replies

    def cmd(self, name: str, args: str = "") -> list[Reply]:
        return self.send(Incoming.command(name, args))

    def text(self, text: str) -> list[Reply]:
        return self.send(Incoming.message(text))

    def press(self, data: str, update: tuple[str, int] | None = None) -> list[Reply]:
        return self.send(Incoming.button(data), update=update)

    def tap(self, data: str) -> list[Reply]:
        offered = data_of(self.last)
        assert data in offered, f"{data!r} is not among the offered buttons {offered}"
        return self.press(data)

    # ---- whole stretches of a journey ----------------------------------------------
    def consent_and_skip_profile(self) -> None:
        self.cmd("start")
        self.tap("c:y")
        self.tap("ps:v")
        self.tap("ps:g")
        self.tap("ps:a")

    def decline(self) -> None:
        self.cmd("start")
        self.tap("c:n")

    def walk_course(self, course: Course) -> list[list[Reply]]:
        """Open the course from the menu and press Next to the last step; each step's replies."""
        if f"o:{course.id}" not in data_of(self.last):
            self.cmd("menu")
        steps = [self.tap(f"o:{course.id}")]
        for k in range(1, len(course.steps)):
            steps.append(self.tap(f"s:{course.id}:{k}"))
        return steps

    def take_quiz(self, course: Course, right: bool | list[bool] = True) -> list[Reply]:
        """Start the quiz from the offered button and answer every question; the last replies."""
        questions = course.quiz.questions
        plan = [right] * len(questions) if isinstance(right, bool) else list(right)
        replies = self.tap(f"q:{course.id}")
        for i, (question, ok) in enumerate(zip(questions, plan)):
            choice = question.answer - 1 if ok else question.answer % len(question.options)
            data = answer_button(replies[-1], i, choice)
            replies = self.tap(data)
        return replies


def answer_button(question_reply: Reply, index: int, choice: int) -> str:
    """The data of the button for `choice` (0-based) on the question reply for `index`."""
    for row in question_reply.buttons:
        for button in row:
            parts = button.data.split(":")
            if parts[0] == "qa" and parts[3] == str(index) and parts[4] == str(choice):
                return button.data
    raise AssertionError(f"no answer button {index}/{choice} in {question_reply.buttons}")
