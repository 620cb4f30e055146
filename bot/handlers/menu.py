"""The main menu: courses as buttons, with 'continue where you left off' on top."""
from __future__ import annotations

from sqlalchemy import bindparam, exists, select

from bot.button_data import Action, encode
from bot.content import Course
from bot.handlers.turn import Turn
from bot.models import Completion, Progress
from bot.replies import Button, Reply


def courses_for(turn: Turn) -> list[Course]:
    """All courses, those meant for the resident's group first."""
    courses = turn.pack.ordered_courses
    audience = None
    if turn.resident and turn.resident.group_id:
        group = next((g for g in turn.pack.profile.groups if g.id == turn.resident.group_id), None)
        audience = group.audience if group else None
    if audience is None:
        return courses
    return sorted(courses, key=lambda c: audience not in c.audiences)


# The courses a resident began and has not completed, last opened first: one statement, built
# once (every menu runs it), reading two columns rather than whole rows.
UNFINISHED = (select(Progress.course_id, Progress.step_index)
              .where(Progress.resident_id == bindparam("resident_id"),
                     ~exists().where(Completion.resident_id == Progress.resident_id,
                                     Completion.course_id == Progress.course_id))
              .order_by(Progress.updated_at.desc()))


def resume_target(turn: Turn) -> tuple[Course, int] | None:
    """The course the resident was last in and has not completed yet."""
    if turn.resident is None:
        return None
    return first_unfinished(turn, turn.session.execute(UNFINISHED, {"resident_id": turn.resident.id}))


def first_unfinished(turn: Turn, rows) -> tuple[Course, int] | None:
    """The first of (course id, step index) rows, last opened first, whose course still exists."""
    for course_id, step_index in rows:
        course = turn.pack.courses.get(course_id)
        if course:
            return course, min(step_index, len(course.steps) - 1)
    return None


def menu_buttons(turn: Turn) -> list[list[Button]]:
    _ = turn._
    rows: list[list[Button]] = []
    resume = resume_target(turn)
    if resume:
        course, step = resume
        label = _("▶️ Continue: {course} ({n}/{total})").format(
            course=course.button, n=step + 1, total=len(course.steps))
        rows.append([Button(label, encode(Action.STEP, course.id, step))])
    rows += [[Button(c.button, encode(Action.OPEN_COURSE, c.id))] for c in courses_for(turn)]
    rows.append([Button(_("📊 My progress"), encode(Action.PROGRESS)),
                 Button(_("❓ Help"), encode(Action.HELP))])
    return rows


def menu_reply(turn: Turn, text: str | None = None, edit: bool = False) -> Reply:
    text = text or turn._("What would you like to learn? Tap a lesson below.")
    return Reply(text, menu_buttons(turn), edit=edit)


def show_menu(turn: Turn, args: list[str] | None = None, edit: bool = False) -> list[Reply]:
    return [menu_reply(turn, edit=edit)]


def show_menu_button(turn: Turn, args: list[str]) -> list[Reply]:
    return show_menu(turn, edit=True)
