"""Which lesson parts can be heard, the key each is known by, and the text read for it.

A key names a part for its recordings (knowledge/<lang>/audio/<key>.<ext>, the recordings table)
and stays when the text is edited: a course step is "<course>/<step id>", a quiz question
"<course>/quiz/<question id>", a question-and-answer entry "faq/<entry id>".
"""
from __future__ import annotations

from bot.content.schema import Course, FaqEntry, LanguagePack
from bot.replies import Speech

QUIZ_LETTERS = "ABCD"


def step_key(course_id: str, step_id: str) -> str:
    return f"{course_id}/{step_id}"


def question_key(course_id: str, question_id: str) -> str:
    return f"{course_id}/quiz/{question_id}"


def faq_key(entry_id: str) -> str:
    return f"faq/{entry_id}"


def step_speech(language: str, course: Course, index: int) -> Speech:
    step = course.steps[index]
    # A line each: bot.media.speech.speakable closes a line with a pause, unless it ends in "?" or ".".
    return Speech(language, step_key(course.id, step.id), f"{step.title}\n{step.text}", step.title)


def question_speech(language: str, course: Course, index: int) -> Speech:
    question = course.quiz.questions[index]
    options = [f"{QUIZ_LETTERS[i]}. {option}" for i, option in enumerate(question.options)]
    return Speech(language, question_key(course.id, question.id), "\n".join([question.question, *options]),
                  question.question)


def faq_speech(language: str, entry: FaqEntry) -> Speech:
    return Speech(language, faq_key(entry.id), entry.answer, entry.question)


def all_parts(pack: LanguagePack) -> list[Speech]:
    """Every part of a language's content that can be heard, in the order a resident meets them."""
    parts: list[Speech] = []
    for course in pack.ordered_courses:
        parts += [step_speech(pack.code, course, i) for i in range(len(course.steps))]
        parts += [question_speech(pack.code, course, i) for i in range(len(course.quiz.questions))]
    parts += [faq_speech(pack.code, entry) for entry in pack.faq]
    return parts
