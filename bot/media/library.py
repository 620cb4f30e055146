"""Where a lesson part's audio comes from, best first, and the disk cache that serves it.

1. A person's recording: uploaded by an official (the recordings table), or a file in
   knowledge/<lang>/audio/<key>.<ext>. Thái and H'Mông lessons are heard only this way.
2. Otherwise eSpeak NG reads the text (bot/media/speech.py), in Vietnamese.

Every file is made once and kept in the cache folder under a name hashed from what made it (the
recording's bytes, or the text, voice and speed) and the format: an edited step or a new
recording gets a new file, and a name never points to other sound. The names are what
/media/audio/<name> serves (the web chat's player, Zalo's sendVoice).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.content.schema import Knowledge
from bot.media import audio
from bot.media.audio import RECORDING_EXTENSIONS, Format
from bot.media.speech import RATE, VOICES, Speaker, SpeechError
from bot.models import Recording
from bot.replies import Picture, Speech

log = logging.getLogger(__name__)
CACHE_NAME = re.compile(r"^[0-9a-f]{32}\.(ogg|m4a)$")
# Bumped when the way files are made changes (voice settings, encoder): every name changes too.
RECIPE = "2"
# Sounds kept in memory for their second format: the web chat asks for both formats of a step one
# after the other, so one would do; two let two chats that press "Listen" at the same moment
# still make each step once. A step eSpeak NG reads is up to 3 MB of samples (a minute at 22 kHz),
# kept until two others come: no more than this (issue 18, memory).
RECENT = 2


@dataclass(frozen=True)
class VoiceFile:
    path: Path
    fmt: Format
    source: str         # "recording" | "file" | "speech": where the sound came from

    @property
    def name(self) -> str:
        return self.path.name


class MediaLibrary:
    def __init__(self, knowledge: Knowledge, sessions: sessionmaker[Session] | None, cache_dir: Path,
                 speaker: Speaker | None = None):
        self.knowledge, self.sessions = knowledge, sessions
        self.cache_dir = Path(cache_dir)
        self.speaker = speaker or Speaker()
        self._recent: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self._hashes: dict[tuple, str] = {}    # (recording file, mtime, size) -> its SHA-256

    # ---- sound ---------------------------------------------------------------------------
    def voice(self, speech: Speech, fmt: Format) -> VoiceFile | None:
        """The part's sound as a file of `fmt`, made now if it is not in the cache; None when
        there is none (no recording and no voice, or a broken install: logged, never raised)."""
        try:
            return self._voice(speech, fmt)
        except (SpeechError, audio.AudioError, OSError) as exc:
            log.warning("no audio for a lesson part (%s: %s)", type(exc).__name__, exc)
            return None

    def _voice(self, speech: Speech, fmt: Format) -> VoiceFile | None:
        for language in self._languages(speech.language):
            recorded = self._recorded_hash(language, speech.key)
            if recorded is not None:
                return self._cached(f"recording|{recorded}", fmt, "recording",
                                    lambda: audio.decode(self._recorded_bytes(language, speech.key)))
            path = self.recording_file(language, speech.key)
            if path is not None:
                return self._cached(f"file|{self._file_hash(path)}", fmt, "file",
                                    lambda: audio.decode(path.read_bytes()))
        voice_language = speech.language if speech.language in VOICES else self.knowledge.default_language
        if voice_language not in VOICES:
            return None
        recipe = f"espeak|{VOICES[voice_language]}|{RATE}|{speech.text}"
        return self._cached(recipe, fmt, "speech", lambda: self.speaker.speak(speech.text, voice_language))

    def _file_hash(self, path: Path) -> str:
        """A recording file's SHA-256, read again only when the file changes: a cache hit then costs
        a stat, not reading and hashing up to 2 MB."""
        stat = path.stat()
        stamp = (path, stat.st_mtime_ns, stat.st_size)
        digest = self._hashes.get(stamp)
        if digest is None:
            digest = self._hashes[stamp] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digest

    def _languages(self, language: str) -> list[str]:
        default = self.knowledge.default_language
        return [language] if language == default else [language, default]

    def _cached(self, recipe: str, fmt: Format, source: str, make) -> VoiceFile:
        digest = hashlib.sha256(f"{RECIPE}|{fmt.name}|{recipe}".encode()).hexdigest()[:32]
        path = self.cache_dir / f"{digest}.{fmt.extension}"
        if not path.is_file():
            samples, rate = self._samples(recipe, make)
            self._write(path, audio.encode(samples, rate, fmt))
        return VoiceFile(path, fmt, source)

    def _samples(self, recipe: str, make) -> tuple:
        """The sound to encode; the last few are kept a moment, so the web chat's two formats of one
        step are one synthesis (and exactly the same length)."""
        with self._lock:
            if recipe in self._recent:
                self._recent.move_to_end(recipe)
                return self._recent[recipe]
        made = make()
        with self._lock:
            self._recent[recipe] = made
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return made

    def _write(self, path: Path, data: bytes) -> None:
        """All or nothing: a file is renamed into place once written, so a reader never gets half."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def cached_file(self, name: str) -> Path | None:
        """A file of the cache by its public name, or None (never a path outside the cache)."""
        if not CACHE_NAME.match(name):
            return None
        path = self.cache_dir / name
        return path if path.is_file() else None

    # ---- recordings ----------------------------------------------------------------------
    def _recorded_hash(self, language: str, key: str) -> str | None:
        if self.sessions is None:
            return None
        with self.sessions() as session:
            return session.scalar(select(Recording.sha256).where(Recording.language == language,
                                                                 Recording.key == key))

    def _recorded_bytes(self, language: str, key: str) -> bytes:
        with self.sessions() as session:
            return session.scalar(select(Recording.data).where(Recording.language == language,
                                                               Recording.key == key))

    def recording_file(self, language: str, key: str) -> Path | None:
        if self.knowledge.root is None:
            return None
        base = self.knowledge.root / language / "audio" / key
        for extension in RECORDING_EXTENSIONS:
            path = base.with_name(f"{base.name}.{extension}")
            if path.is_file():
                return path
        return None

    # ---- pictures ------------------------------------------------------------------------
    def picture_file(self, picture: Picture) -> Path | None:
        if self.knowledge.root is None:
            return None
        path = self.knowledge.root / picture.language / "images" / picture.file
        return path if path.is_file() else None
