"""Which lesson parts have a person's recording, a picture, or neither, per language: what
`hocvuso content media`, the admin API (/api/v1/media) and the console show officials."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.schema import Knowledge
from bot.media.keys import all_parts
from bot.models import Recording


@dataclass(frozen=True)
class PartMedia:
    language: str
    key: str                  # bot/media/keys.py
    title: str                # the step's title, the question, the FAQ entry's question
    recording: str | None     # "upload" (an official's, in the database) | "file" (knowledge/) | None
    picture: str | None       # a step's picture file


def languages(knowledge: Knowledge) -> list[str]:
    """Languages with lessons: those read, and those only heard (folders with recordings only)."""
    return [*knowledge.languages, *knowledge.audio_languages]


def recordable(knowledge: Knowledge) -> list[str]:
    """Languages a recording may be made in: those with lessons, and any in languages.yaml (a first
    Thái recording comes before a tai/ folder exists)."""
    return list(dict.fromkeys([*languages(knowledge), *(n.code for n in knowledge.language_names)]))


def known_keys(knowledge: Knowledge) -> set[str]:
    return {part.key for part in all_parts(knowledge.pack(knowledge.default_language))}


def inventory(knowledge: Knowledge, session: Session | None, media) -> list[PartMedia]:
    """Every part of every language; a language heard but not read lists the Vietnamese parts."""
    uploads = set() if session is None else set(session.execute(select(Recording.language, Recording.key)).all())
    rows: list[PartMedia] = []
    for language in languages(knowledge):
        pack = knowledge.pack(language)
        pictures = {f"{c.id}/{s.id}": s.image for c in pack.courses.values() for s in c.steps}
        for part in all_parts(pack):
            if (language, part.key) in uploads:
                recording = "upload"
            elif media.recording_file(language, part.key) is not None:
                recording = "file"
            else:
                recording = None
            rows.append(PartMedia(language, part.key, part.title, recording, pictures.get(part.key)))
    return rows

