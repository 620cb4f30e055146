"""The quiz after a course: one question at a time, instant right/wrong, score and retry.

For a resident who consented, attempts and answers are stored; the primary key of
QuizAnswer (attempt, question) makes a double tap count once. For a resident who did not,
the running score travels in the button data and nothing is stored.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from bot.button_data import Action, encode
from bot.content import Course
from bot.handlers import listen
from bot.handlers.course import stale_button
from bot.handlers.turn import Turn, small_number
from bot.models import Completion, QuizAnswer, QuizAttempt
from bot.replies import Button, Reply

LETTERS = "ABCD"


def question_reply(turn: Turn, course: Course, attempt_id: int, index: int, score: int,
                   edit: bool) -> Reply:
    _ = turn._
    question = course.quiz.questions[index]
    total = len(course.quiz.questions)
    lines = [_("📝 Question {n}/{total}").format(n=index + 1, total=total), question.question, ""]
    lines += [f"{LETTERS[i]}. {option}" for i, option in enumerate(question.options)]
    buttons = [[Button(LETTERS[i], encode(Action.QUIZ_ANSWER, course.id, attempt_id, index, i, score))
                for i in range(len(question.options))]]
    buttons += listen.listen_row(turn, listen.QUESTION, course.id, index)
    return Reply("\n".join(lines), buttons, edit=edit)


def start_quiz(turn: Turn, args: list[str]) -> list[Reply]:
    course = turn.pack.courses.get(args[0] if args else "")
    if course is None:
        return stale_button(turn)
    attempt_id = 0
    if turn.resident is not None:
        attempt = QuizAttempt(resident_id=turn.resident.id, course_id=course.id,
                              total=len(course.quiz.questions), started_at=turn.now)
        turn.session.add(attempt)
        turn.session.flush()
        attempt_id = attempt.id
    else:
        turn.count(f"quiz_start:{course.id}")
    intro = Reply(turn._("Quiz: {course}. {total} questions; you pass with {percent}% correct. "
                         "Good luck! 🍀").format(course=course.title, total=len(course.quiz.questions),
                                                percent=course.quiz.pass_percent), edit=True)
    return [intro, question_reply(turn, course, attempt_id, 0, 0, edit=False)]


def answer(turn: Turn, args: list[str]) -> list[Reply]:
    numbers = [small_number(a) for a in args[1:]]
    if len(args) != 5 or None in numbers:
        return stale_button(turn)
    course = turn.pack.courses.get(args[0])
    attempt_id, index, choice, carried_score = numbers
    if course is None or index >= len(course.quiz.questions):
        return stale_button(turn)
    question = course.quiz.questions[index]
    if choice >= len(question.options):
        return stale_button(turn)
    is_right = choice + 1 == question.answer

    if turn.resident is not None:
        attempt = turn.session.get(QuizAttempt, attempt_id) if attempt_id else None
        if attempt is None or attempt.resident_id != turn.resident.id or attempt.course_id != course.id:
            return stale_button(turn)
        if attempt.finished_at is not None or attempt.answered != index:
            return []  # a double tap, or a button from a question already answered
        turn.session.add(QuizAnswer(attempt_id=attempt.id, question_index=index, choice=choice,
                                    correct=is_right, answered_at=turn.now))
        attempt.answered += 1
        attempt.correct += int(is_right)
        score = attempt.correct
    else:
        attempt = None
        score = min(carried_score, index) + int(is_right)

    replies = [feedback_reply(turn, course, index, choice, is_right)]
    if index + 1 < len(course.quiz.questions):
        replies.append(question_reply(turn, course, attempt_id, index + 1, score, edit=False))
    else:
        replies.append(finish(turn, course, attempt, score))
    return replies


def feedback_reply(turn: Turn, course: Course, index: int, choice: int, is_right: bool) -> Reply:
    _ = turn._
    question = course.quiz.questions[index]
    right = question.answer - 1
    lines = [_("📝 Question {n}/{total}").format(n=index + 1, total=len(course.quiz.questions)),
             question.question, "",
             _("You chose: {letter}. {option}").format(letter=LETTERS[choice], option=question.options[choice])]
    if is_right:
        lines.append(_("✅ Correct!"))
    else:
        lines.append(_("❌ Not quite. The right answer is {letter}. {option}").format(
            letter=LETTERS[right], option=question.options[right]))
    lines.append("💡 " + question.explain)
    return Reply("\n".join(lines), edit=True)


def finish(turn: Turn, course: Course, attempt: QuizAttempt | None, score: int) -> Reply:
    _ = turn._
    total = len(course.quiz.questions)
    percent = round(100 * score / total)
    passed = percent >= course.quiz.pass_percent
    lines = [_("Result: {score}/{total} correct ({percent}%).").format(
        score=score, total=total, percent=percent)]
    if attempt is not None:
        attempt.passed = passed
        attempt.finished_at = turn.now
    if passed and attempt is not None:
        done = record_completion(turn, course, percent)
        lines.append(_("🎉 Well done! You completed «{course}» on {date}.").format(
            course=course.title, date=turn.format_date(done.completed_at)))
    elif passed:
        turn.count(f"quiz_pass:{course.id}")
        lines.append(_("🎉 Well done, you passed! (You chose not to save data, so this result "
                       "is not recorded.)"))
    else:
        lines.append(_("You need {percent}% to pass. Read the lesson again and try once more, "
                       "no problem at all!").format(percent=course.quiz.pass_percent))
    buttons = [[Button(_("🔁 Try again"), encode(Action.QUIZ, course.id)),
                Button(_("📖 Read again"), encode(Action.STEP, course.id, 0))],
               [Button(_("📊 My progress"), encode(Action.PROGRESS)),
                Button(_("🏠 Menu"), encode(Action.MENU))]]
    return Reply("\n".join(lines), buttons)


def record_completion(turn: Turn, course: Course, percent: int) -> Completion:
    """Keep the date of the first pass and the best score since."""
    done = turn.session.get(Completion, (turn.resident.id, course.id))
    if done is None:
        done = Completion(resident_id=turn.resident.id, course_id=course.id,
                          completed_at=turn.now, best_percent=percent)
        turn.session.add(done)
    else:
        done.best_percent = max(done.best_percent, percent)
    return done


# Built once: /tiendo runs it. Two columns, not whole rows.
_COMPLETED = select(Completion.course_id, Completion.completed_at).where(
    Completion.resident_id == bindparam("resident_id"))


def completed_courses(turn: Turn) -> dict[str, datetime]:
    """When the resident completed each course they completed."""
    if turn.resident is None:
        return {}
    return {course_id: at for course_id, at in turn.session.execute(_COMPLETED, {"resident_id": turn.resident.id})}
