"""Which lesson parts have a person's recording, a picture, or neither, per language: what
`hocvuso content media`, the admin API (/api/v1/media) and the console show officials."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.schema import Knowledge
from bot.media.keys import all_parts, faq_key, question_key, step_key
from bot.models import Recording


@dataclass(frozen=True)
class PartMedia:
    language: str
    key: str                  # bot/media/keys.py
    title: str                # the step's title, the question, the FAQ entry's question
    recording: str | None     # "upload" (an official's, in the database) | "file" (knowledge/) | None
    picture: str | None       # a step's picture file


def languages(knowledge: Knowledge) -> list[str]:
    return [*knowledge.languages, *knowledge.audio_languages]


def known_keys(knowledge: Knowledge) -> set[str]:
    return {part.key for part in all_parts(knowledge.pack(knowledge.default_language))}


def inventory(knowledge: Knowledge, session: Session | None, media) -> list[PartMedia]:
    """Every part of every language; a language heard but not read lists the Vietnamese parts."""
    uploads = set() if session is None else set(session.execute(select(Recording.language, Recording.key)).all())
    rows: list[PartMedia] = []
    for language in languages(knowledge):
        pack = knowledge.pack(language)
        titles = _titles(pack)
        pictures = {f"{c.id}/{s.id}": s.image for c in pack.courses.values() for s in c.steps}
        for part in all_parts(pack):
            if (language, part.key) in uploads:
                recording = "upload"
            elif media.recording_file(language, part.key) is not None:
                recording = "file"
            else:
                recording = None
            rows.append(PartMedia(language, part.key, titles[part.key], recording, pictures.get(part.key)))
    return rows


def _titles(pack) -> dict[str, str]:
    titles = {}
    for course in pack.courses.values():
        titles |= {step_key(course.id, s.id): s.title for s in course.steps}
        titles |= {question_key(course.id, q.id): q.question for q in course.quiz.questions}
    titles |= {faq_key(e.id): e.question for e in pack.faq}
    return titles
