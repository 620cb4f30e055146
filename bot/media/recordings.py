"""Officials' recordings of lesson parts: checked the same way wherever they come from (/ghiam in
the bot, the admin API, the console), and kept in the database (every process sees them)."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.content.media_check import AUDIO_MAX_BYTES
from bot.i18n import N_
from bot.media import audio
from bot.models import Recording

MAX_SECONDS = 600          # a step read aloud is one or two minutes; ten is surely a mistake
TOO_BIG = N_("it is larger than 2 MB")
NOT_SOUND = N_("it is not a sound file I can play")
TOO_LONG = N_("it is longer than 10 minutes")


def check(data: bytes) -> tuple[str | None, float]:
    """Why a recording cannot be used (a catalog message id) or None, and its length in seconds."""
    if len(data) > AUDIO_MAX_BYTES:
        return TOO_BIG, 0.0
    try:
        seconds = audio.probe(data).seconds
    except audio.AudioError:
        return NOT_SOUND, 0.0
    return (TOO_LONG if seconds > MAX_SECONDS else None), seconds


def store(session: Session, language: str, key: str, data: bytes, seconds: float, source: str,
          now: datetime) -> Recording:
    """Keep a checked recording for (language, key), replacing an older one: one statement."""
    values = {"language": language, "key": key, "data": data, "sha256": hashlib.sha256(data).hexdigest(),
              "seconds": seconds, "source": source, "uploaded_at": now}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Recording).values(**values).on_conflict_do_update(
        index_elements=["language", "key"], set_={k: v for k, v in values.items() if k not in ("language", "key")}))
    session.flush()
    return session.get(Recording, (language, key), populate_existing=True)


def remove(session: Session, language: str, key: str) -> bool:
    return session.execute(delete(Recording).where(Recording.language == language, Recording.key == key)).rowcount > 0
