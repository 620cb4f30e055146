"""`hocvuso chat`: the terminal adapter, driven by typed button numbers."""
from __future__ import annotations

import io
import re

from sqlalchemy import select

from bot.channels.terminal.chat import render, run_chat
from bot.i18n import translator
from bot.models import Completion, Progress, Resident
from bot.replies import Button, Reply

BUTTON = re.compile(r"\[(\d+)\] ([^\[\n]+?)(?=\s{3}\[|\s*$)", re.MULTILINE)


class Typist:
    """Plays the resident: each readline() looks at what the bot printed since the last line."""

    def __init__(self, out: io.StringIO, script):
        self.out = out
        self.script = iter(script)
        self.seen = 0
        self.typed: list[str] = []
        self.screens: list[str] = []

    def readline(self) -> str:
        screen = self.out.getvalue()[self.seen:]
        self.seen = len(self.out.getvalue())
        self.screens.append(screen)
        try:
            step = next(self.script)
        except StopIteration:
            return ""  # Ctrl-D
        line = step(screen) if callable(step) else step
        self.typed.append(line)
        return line + "\n"


def buttons_on(screen: str) -> dict[str, str]:
    """label -> number, for the buttons printed on one screen."""
    return {label.strip(): number for number, label in BUTTON.findall(screen)}


def press(label_part: str):
    def choose(screen: str) -> str:
        matches = [n for label, n in buttons_on(screen).items() if label_part in label]
        assert matches, f"no button with {label_part!r} on screen:\n{screen}"
        return matches[0]
    return choose


def test_render_numbers_buttons_across_replies():
    out = io.StringIO()
    buttons = render([Reply("Một\n\nHai", [[Button("A", "a"), Button("B", "b")]]),
                      Reply("Ba", [[Button("C", "c")]])], out)
    assert [b.data for b in buttons] == ["a", "b", "c"]
    text = out.getvalue()
    assert "Một\n\nHai" in text
    assert "[1] A   [2] B" in text and "[3] C" in text


def test_consent_skip_profile_and_walk_to_the_quiz(assistant, sessions, knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    total = len(course.steps)
    out = io.StringIO()
    script = [press("Đồng ý"), press("Bỏ qua"), press("Bỏ qua"), press("Bỏ qua"), press(course.button)]
    script += [press("Tiếp")] * (total - 1)
    script += [press("Làm bài kiểm tra"), "/tiendo"]
    typist = Typist(out, script)
    run_chat(assistant, "u1", "Lan", inp=typist, out=out)
    screens = typist.screens

    # The opening: how to use it, the greeting and the consent question with numbered buttons.
    intro = translator("vi")("Type a button number, a /command, or a question. Ctrl-D to quit.")
    assert out.getvalue().splitlines()[0] == intro
    assert "Xin chào" in screens[0]
    assert buttons_on(screens[0]) == {"✅ Đồng ý": "1", "Không, cảm ơn": "2"}
    assert typist.typed[0] == "1"
    # Consent, then three skippable profile questions.
    assert "Cảm ơn bạn" in screens[1] and "bản, tiểu khu" in screens[1]
    assert "nhóm nào" in screens[2]
    assert "bao nhiêu tuổi" in screens[3]
    assert "Xong rồi" in screens[4] and course.button in screens[4]
    # Every step, numbered k/n.
    for k in range(1, total + 1):
        assert f"Bước {k}/{total}" in screens[4 + k]
    # A step's picture cannot be shown here: its caption is, above the step.
    assert f"🖼 {course.steps[0].caption.split()[0]}" in screens[5]
    assert screens[5].index("🖼") < screens[5].index("Bước 1/")
    assert "Làm bài kiểm tra" in screens[4 + total]
    # The quiz starts.
    quiz = screens[5 + total]
    assert "Kiểm tra:" in quiz and f"Câu 1/{len(course.quiz.questions)}" in quiz
    assert {"A", "B", "C", "D"} >= set(buttons_on(quiz)) and "A" in buttons_on(quiz)
    # /tiendo typed as a command.
    assert f"bước {total}/{total}" in screens[6 + total]
    assert out.getvalue().endswith("\n")  # Ctrl-D ends cleanly

    with sessions() as s:
        resident = s.scalars(select(Resident).where(Resident.platform == "terminal",
                                                    Resident.external_id == "u1")).one()
        assert resident.first_name == "Lan"
        assert (resident.village_id, resident.group_id, resident.age_band) == (None, None, None)
        assert s.get(Progress, (resident.id, "vneid")).step_index == total - 1


def test_declining_and_odd_input(assistant, sessions):
    out = io.StringIO()
    script = [press("Không"), "", "   ", "99", "0", "xin chào", "/khongco", press("Tiến độ")]
    typist = Typist(out, script)
    run_chat(assistant, "u2", None, inp=typist, out=out)
    screens = typist.screens
    assert "không lưu gì" in screens[1]
    # Blank lines are ignored: just the prompt again.
    assert screens[2].strip() == ">" and screens[3].strip() == ">"
    # Numbers that are no button are free text.
    assert "Xin lỗi" in screens[4]  # "99"
    assert "Xin lỗi" in screens[5]  # "0"
    assert "Chào bạn" in screens[6]  # "xin chào" is a greeting
    assert "/khongco" in screens[7] and "/trogiup" in screens[7]
    assert "không lưu tiến độ" in screens[8]
    with sessions() as s:
        assert s.scalars(select(Resident)).all() == []


def exactly(label: str):
    def choose(screen: str) -> str:
        return buttons_on(screen)[label]
    return choose


def test_quiz_in_the_terminal(assistant, sessions, knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    letters = "ABCD"
    out = io.StringIO()
    script = [press("Đồng ý"), press("Bỏ qua"), press("Bỏ qua"), press("Bỏ qua"), press(course.button)]
    script += [press("Tiếp")] * (len(course.steps) - 1)
    script += [press("Làm bài kiểm tra")]
    script += [exactly(letters[q.answer - 1]) for q in course.quiz.questions]
    script += [press("Tiến độ")]
    typist = Typist(out, script)
    run_chat(assistant, "u4", "Lan", inp=typist, out=out)
    n = len(course.quiz.questions)
    answers = typist.screens[-n - 1:-1]
    assert all("Đúng rồi" in screen for screen in answers)
    assert f"đúng {n}/{n} câu (100%)" in answers[-1]
    assert "✅" in typist.screens[-1] and "đã hoàn thành" in typist.screens[-1]
    with sessions() as s:
        resident = s.scalars(select(Resident).where(Resident.external_id == "u4")).one()
        assert s.get(Completion, (resident.id, "vneid")).best_percent == 100
