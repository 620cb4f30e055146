"""👍/👎 under free-text answers: which answer a vote is about, and storing it.

A vote button names only the answer ("vo:u:f:<id>", "vo:d:s:<course>:<n>": the answer's own
button data after the vote), because Telegram's 64 bytes cannot hold the question. The question
waits on the resident's row (Resident.asked_question), so only residents who agreed to keep
data have one, and it goes when they are forgotten.
"""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers.turn import Turn, small_number
from bot.i18n import N_
from bot.models import AnswerVote, Resident
from bot.qa.index import Target
from bot.replies import Button

VOTES = {"u": "up", "d": "down"}
MAX_CHOICES = 3   # Resident.asked_answer holds this many keys of at most 65 characters
UP_LABEL = N_("👍 That's what I meant")
DOWN_LABEL = N_("👎 Not quite")


def answer_data(turn: Turn, target: Target) -> str | None:
    """The button data that shows this answer (the "f:" and "s:" handlers'), if it still exists."""
    if target.kind == "faq":
        return encode(Action.FAQ, target.key) if target.key in turn.qa.faq else None
    course_id, step_id = target.key.split("/", 1)
    course = turn.pack.courses.get(course_id)
    index = course.step_number(step_id) if course else None
    return None if index is None else encode(Action.STEP, course_id, index)


def answer_key(turn: Turn, data: list[str]) -> str | None:
    """The index's key for an answer's button data, split: the FAQ id, or "course/step-id"."""
    if len(data) == 2 and data[0] == Action.FAQ:
        return data[1]
    if len(data) == 3 and data[0] == Action.STEP:
        course = turn.pack.courses.get(data[1])
        n = small_number(data[2])
        if course is not None and n is not None and n < len(course.steps):
            return f"{course.id}/{course.steps[n].id}"
    return None


def vote_row(turn: Turn, data: str) -> list[Button]:
    _ = turn._
    return [Button(_(UP_LABEL), encode(Action.VOTE, "u", data)),
            Button(_(DOWN_LABEL), encode(Action.VOTE, "d", data))]


def await_vote(turn: Turn, question: str, keys: list[str]) -> None:
    """Keep the question (already through for_log) until the resident votes on its answer;
    a new question replaces it. Nothing is kept for a resident who did not consent."""
    if turn.resident is None:
        return
    turn.resident.asked_question = question or None   # nothing left after for_log: nothing to vote on
    turn.resident.asked_answer = " ".join(keys[:MAX_CHOICES]) if question else None


def take_choice(turn: Turn, key: str) -> bool:
    """True if this is the answer the last question got; if the resident was picking among
    choices, picking this one makes it that answer."""
    resident = turn.resident
    if resident is None or not resident.asked_answer:
        return False
    if key in resident.asked_answer.split(" "):
        resident.asked_answer = key
        return True
    return False


def record_vote(turn: Turn, key: str, vote: str) -> None:
    """Count the vote if it is about the last answered question's answer, once: the question
    is then forgotten, so a second tap (or a tap on an older answer) counts nothing."""
    resident: Resident | None = turn.resident
    if resident is None or not resident.asked_question or resident.asked_answer != key:
        return
    day = turn.local_date()
    turn.upsert(AnswerVote, {"question": resident.asked_question, "answer": key, "vote": vote, "count": 1,
                             "first_day": day, "last_day": day},
                ["question", "answer", "vote"], replace=("last_day",), add=("count",))
    resident.asked_question = resident.asked_answer = None
