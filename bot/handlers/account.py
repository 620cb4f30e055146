"""/tiendo (progress), /trogiup (help) and /xoadulieu (delete everything, after a confirm)."""
from __future__ import annotations

from sqlalchemy import bindparam, select

from bot.button_data import NO, YES, Action, encode
from bot.handlers.menu import first_unfinished, menu_reply
from bot.handlers.quiz import completed_courses
from bot.handlers.turn import Turn
from bot.models import Progress
from bot.privacy import forget_resident
from bot.replies import Button, Reply

# Built once: /tiendo runs it. Two columns, not whole rows.
_BEGUN = (select(Progress.course_id, Progress.step_index).where(Progress.resident_id == bindparam("resident_id"))
          .order_by(Progress.updated_at.desc()))


def show_progress(turn: Turn, args=None) -> list[Reply]:
    _ = turn._
    edit = isinstance(args, list)  # pressed as a button rather than typed
    if turn.resident is None:
        return [menu_reply(turn, _("You chose not to save your progress, so I do not remember "
                                   "what you studied. To save it, send /start and tap \"Yes\"."), edit=edit)]
    done = completed_courses(turn)
    # Every course begun, last opened first: the steps for the list, and where to go next.
    begun = turn.session.execute(_BEGUN, {"resident_id": turn.resident.id}).all()
    steps = {course_id: step_index for course_id, step_index in begun}
    lines = [_("📊 Your progress:")]
    next_course = None
    for course in turn.pack.ordered_courses:
        if course.id in done:
            lines.append(_("✅ {course}: completed on {date}").format(
                course=course.button, date=turn.format_date(done[course.id])))
        elif course.id in steps:
            step = min(steps[course.id], len(course.steps) - 1)
            lines.append(_("▶️ {course}: studying, step {n}/{total}").format(
                course=course.button, n=step + 1, total=len(course.steps)))
        else:
            lines.append(_("⬜ {course}: not started").format(course=course.button))
            next_course = next_course or course
    resume = first_unfinished(turn, [row for row in begun if row[0] not in done])   # as resume_target
    buttons: list[list[Button]] = []
    if resume:
        course, step = resume
        if step == len(course.steps) - 1:
            lines.append(_("Next: take the quiz of «{course}».").format(course=course.button))
            buttons.append([Button(_("📝 Take the quiz"), encode(Action.QUIZ, course.id))])
        else:
            lines.append(_("Next: continue «{course}» at step {n}.").format(course=course.button, n=step + 1))
            buttons.append([Button(_("▶️ Continue"), encode(Action.STEP, course.id, step))])
    elif next_course:
        lines.append(_("Next: start «{course}».").format(course=next_course.button))
        buttons.append([Button(_("▶️ Start"), encode(Action.OPEN_COURSE, next_course.id))])
    else:
        lines.append(_("You have completed every course. 🎉 Help a neighbour learn too!"))
    if turn.resident.certified_at is not None:
        lines.append(_("🎖 You told me you are certified on VNeID (on {date}).").format(
            date=turn.format_date(turn.resident.certified_at)))
        buttons.append([Button(_("↩️ I am not certified yet"), encode(Action.CERTIFIED, 0))])
    else:
        buttons.append([Button(_("🎖 I am certified on VNeID"), encode(Action.CERTIFIED, 1))])
    buttons.append([Button(_("🏠 Menu"), encode(Action.MENU))])
    return [Reply("\n".join(lines), buttons, edit=edit)]


def show_help(turn: Turn, args=None) -> list[Reply]:
    _ = turn._
    helpers = ", ".join(turn.pack.assistant.in_person_helpers)
    text = _("How to use me:\n"
             "/menu: choose a lesson\n"
             "/hoctiep: continue where you left off\n"
             "/tiendo: see your progress\n"
             "/hoso: change your village, group and age band\n"
             "/ngonngu: change the language\n"
             "/sukien: upcoming events and reminders\n"
             "/caidat: lesson reminders on or off\n"
             "/matiendo: move your progress to another device\n"
             "/giadinh: your digital family\n"
             "/daisuso: for digital ambassadors\n"
             "/xoadulieu: delete all your data\n"
             "/trogiup: this help\n\n"
             "Tap the buttons under each message; you do not need to type.\n"
             "To get help in person, ask: {helpers}.").format(helpers=helpers)
    return [menu_reply(turn, text, edit=isinstance(args, list))]


def ask_delete(turn: Turn, args: str = "") -> list[Reply]:
    _ = turn._
    if turn.resident is None:
        return [menu_reply(turn, _("I do not keep any data about you."))]
    return [Reply(_("Delete everything I keep about you: your progress, quiz results and profile? "
                    "This cannot be undone."),
                  [[Button(_("🗑 Yes, delete everything"), encode(Action.DELETE, YES)),
                   Button(_("No, keep it"), encode(Action.DELETE, NO))]])]


def confirm_delete(turn: Turn, args: list[str]) -> list[Reply]:
    _ = turn._
    if args[:1] != [YES]:
        return [menu_reply(turn, _("OK, nothing was deleted."), edit=True)]
    if turn.resident is None:
        return [menu_reply(turn, _("I do not keep any data about you."), edit=True)]
    delete_everything(turn)
    turn.count("data_deleted")
    return [menu_reply(turn, _("Done. Everything I kept about you has been deleted. You can still "
                               "read the lessons; send /start if you want me to remember you again."),
                       edit=True)]


def delete_everything(turn: Turn) -> None:
    """Remove every row about the resident, without relying on the database's cascades."""
    forget_resident(turn.session, turn.resident.id)
    turn.session.expunge(turn.resident)
    turn.resident = None


def report_certified(turn: Turn, args: list[str]) -> list[Reply]:
    """The resident says they have (cert:1) or have not (cert:0) been certified on VNeID /
    binhdanhocvuso. It counts toward the plan's certification target; pressing twice is harmless."""
    if turn.resident is not None:
        certified = bool(args) and args[0] == "1"
        if certified and turn.resident.certified_at is None:
            turn.resident.certified_at = turn.now
        elif not certified:
            turn.resident.certified_at = None
    return show_progress(turn, args)
