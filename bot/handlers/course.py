"""Walking a course one step at a time ("step k/n"), with Next / Back / Menu buttons."""
from __future__ import annotations

from sqlalchemy import bindparam, update

from bot.button_data import Action, encode
from bot.content import Course
from bot.handlers import listen, votes
from bot.handlers.menu import menu_reply, resume_target
from bot.handlers.turn import Turn, small_number
from bot.models import Progress
from bot.media.keys import step_speech
from bot.replies import Button, Picture, Reply


def stale_button(turn: Turn) -> list[Reply]:
    """A button from an old message whose lesson no longer exists (content was edited)."""
    return [menu_reply(turn, turn._("This lesson has been updated. Please pick it again from the menu."))]


def step_reply(turn: Turn, course: Course, index: int, edit: bool) -> Reply:
    _ = turn._
    step = course.steps[index]
    total = len(course.steps)
    header = _("📘 {course} · Step {n}/{total}").format(course=course.title, n=index + 1, total=total)
    parts = [header]
    if index == 0:
        parts.append(course.intro)
    parts.append(f"{step.title}\n\n{step.text}")
    notes = turn.pack.notes.get((course.id, index))
    if notes:
        parts.append("\n".join(notes))
    if index in (0, total - 1):
        parts.append(_("(updated {date})").format(date=course.updated.strftime("%d/%m/%Y")))
    nav = []
    if index > 0:
        nav.append(Button(_("⬅️ Back"), encode(Action.STEP, course.id, index - 1)))
    if index < total - 1:
        nav.append(Button(_("Next ➡️"), encode(Action.STEP, course.id, index + 1)))
    else:
        nav.append(Button(_("📝 Take the quiz"), encode(Action.QUIZ, course.id)))
    rows = [*listen.listen_row(turn, listen.STEP, course.id, index), nav, [Button(_("🏠 Menu"), encode(Action.MENU))]]
    reply = Reply("\n\n".join(parts), rows, edit=edit)
    if step.image is not None:
        # The picture goes before the text, so the step comes as new messages, not an edit.
        reply.image, reply.edit = Picture(turn.pack.code, step.image, step.caption), False
    if turn.resident is not None and turn.resident.listen and turn.hears:
        # "Tôi muốn nghe": the audio follows the text, so it is new messages too.
        reply.audio, reply.edit = step_speech(turn.language, course, index), False
    return reply


# Built once, for every step press.
_MOVE_STEP = (update(Progress.__table__)
              .where(Progress.__table__.c.resident_id == bindparam("rid"),
                     Progress.__table__.c.course_id == bindparam("cid"))
              .values(step_index=bindparam("step"), updated_at=bindparam("now")))


def record_step(turn: Turn, course: Course, index: int) -> None:
    """An UPDATE of the resident's row for the course, one statement; only a course's first
    step makes the row, as an ORM object, so that its start reaches the report's tallies
    (bot/tallies.py follows the flush)."""
    if turn.resident is None:
        return
    turn.session.flush()    # pending changes first, as the ORM would: the statements keep their order
    moved = turn.session.connection().execute(_MOVE_STEP, {"rid": turn.resident.id, "cid": course.id,
                                                           "step": index, "now": turn.now})
    if moved.rowcount == 0:
        turn.session.add(Progress(resident_id=turn.resident.id, course_id=course.id, step_index=index,
                                  started_at=turn.now, updated_at=turn.now))
        turn.session.flush()


def open_course(turn: Turn, args: list[str]) -> list[Reply]:
    """From the menu: resume where the resident left off, or start at step 1."""
    course = turn.pack.courses.get(args[0] if args else "")
    if course is None:
        return stale_button(turn)
    index = 0
    if turn.resident is None:
        turn.count(f"course_open:{course.id}")
    else:
        row = turn.session.get(Progress, (turn.resident.id, course.id))
        if row is not None:
            index = min(row.step_index, len(course.steps) - 1)
    record_step(turn, course, index)
    return [step_reply(turn, course, index, edit=True)]


def show_step(turn: Turn, args: list[str]) -> list[Reply]:
    """Tiếp / Quay lại. The button names the target step, so a double tap lands on the
    same step twice instead of skipping one."""
    number = small_number(args[1]) if len(args) == 2 else None
    course = turn.pack.courses.get(args[0]) if args else None
    if course is None or number is None:
        return stale_button(turn)
    index = min(number, len(course.steps) - 1)
    record_step(turn, course, index)
    reply = step_reply(turn, course, index, edit=True)
    # The step the resident's last question got, or picked among "did you mean" choices: votable.
    if votes.take_choice(turn, f"{course.id}/{course.steps[index].id}"):
        reply.buttons.insert(-1, votes.vote_row(turn, encode(Action.STEP, course.id, index)))
    return [reply]


def resume(turn: Turn, args: str = "") -> list[Reply]:
    """/hoctiep: continue the last course, or show the menu."""
    target = resume_target(turn)
    if target is None:
        return [menu_reply(turn)]
    course, index = target
    return [step_reply(turn, course, index, edit=False)]
