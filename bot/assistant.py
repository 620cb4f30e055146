"""The platform-neutral conversation core.

`Assistant.handle(contact, incoming)` takes who is talking and what they did, and returns
replies (text plus buttons). It is synchronous and does its own database transaction; the
async adapters run it in a worker thread.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import inbox, write_gate
from bot.tallies import Tallies
from bot.button_data import decode
from bot.config import DEFAULT_MEDIA_DIR
from bot.content import Knowledge
from bot.handlers import BUTTONS, COMMANDS, ask, fallback, recording, start
from bot.guides import guide_cards
from bot.handlers.turn import Turn, find_resident
from bot.media.library import MediaLibrary
from bot.models import ProcessedUpdate
from bot.qa import QaIndex
from bot.reference import seed_reference_data
from bot.replies import Contact, Incoming, Reply

log = logging.getLogger(__name__)

MAX_QUERY = 256   # Telegram's inline queries are at most 256 characters
LAST_SEEN_RESOLUTION = timedelta(hours=1)  # don't write on every message just to say "seen"


class Assistant:
    def __init__(self, knowledge: Knowledge, sessions: sessionmaker[Session],
                 timezone_name: str = "Asia/Ho_Chi_Minh", qa: dict[str, QaIndex] | None = None,
                 media_dir: Path = DEFAULT_MEDIA_DIR):
        self.knowledge = knowledge
        self.sessions = sessions
        # Lessons' audio and pictures (bot/media/): the channels send them, /media/ serves them.
        self.media = MediaLibrary(knowledge, sessions, media_dir)
        self.tz = ZoneInfo(timezone_name)
        seed_reference_data(sessions, knowledge)
        # The report's counts, kept as rows change (bot/tallies.py); built from the rows the
        # first time, and again when knowledge/ changes who is an adult or which courses are core.
        self.tallies = Tallies(knowledge, self.tz)
        if "tallies" not in sessions.kw.get("info", {}):
            self.tallies.install(sessions)
        self.tallies.ensure(sessions)
        self.bot_username: str | None = None   # set by the Telegram adapter when it connects
        self.public_url: str | None = None     # HOCVUSO_PUBLIC_URL, set by the app: web share links
        # Built once at start-up: one retrieval index per content language (`qa`: indexes built
        # already from the same knowledge; they are read-only, so the tests share one set).
        self.qa = qa or {code: QaIndex(pack) for code, pack in knowledge.languages.items()}
        # SQLite has one writer at a time anyway: one worker thread avoids lock waits and
        # GIL ping-pong between threads. A server database gets a small pool.
        self.engine = sessions.kw["bind"]
        write_gate.install(self.engine)     # SQLite: writers queue in this process (bot/write_gate.py)
        sqlite = self.engine.dialect.name == "sqlite"
        self.executor = ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="core")

    def inline_cards(self, contact: Contact, query: str) -> list:
        """Guide cards for an inline query; a card's link credits the user if an ambassador."""
        with self.sessions() as session:
            resident = find_resident(session, contact)
            language = resident.language if resident else self.knowledge.default_language
            ambassador = resident.id if resident is not None and resident.ambassador_since is not None else 0
        pack = self.knowledge.pack(language)
        index = self.qa.get(pack.code) or self.qa[self.knowledge.default_language]
        return guide_cards(pack, index.normalizer, query[:MAX_QUERY], ambassador, self.bot_username)

    async def inline_cards_async(self, contact: Contact, query: str) -> list:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.inline_cards, contact, query)

    async def handle_async(self, contact: Contact, incoming: Incoming,
                           update: tuple[str, int] | None = None) -> list[Reply]:
        """handle(), run in the core's worker thread so the event loop keeps serving others."""
        return await self.run(self.handle, contact, incoming, update)

    async def run(self, function, *args):
        """Run a database function in the core's worker thread (on SQLite the only writer)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def store_update(self, source: str, update_id: int, chat_id: str | None, body: dict) -> None:
        """Write an update down before it is acknowledged (bot/inbox.py)."""
        with self.engine.begin() as connection:
            inbox.store(connection, source, update_id, chat_id, body)

    def discard_update(self, source: str, update_id: int) -> None:
        """An update that needs no handling by the core (or could not be handled) is done."""
        with self.sessions.begin() as session:
            inbox.discard(session, source, update_id)

    def awaits_recording(self, contact: Contact) -> bool:
        """Whether this chat is an official's /ghiam waiting for a voice note: only then does a
        channel fetch the voice note they send (residents' voice notes are never downloaded)."""
        with self.sessions() as session:
            return recording.awaiting(find_resident(session, contact))

    def handle(self, contact: Contact, incoming: Incoming,
               update: tuple[str, int] | None = None) -> list[Reply]:
        """Handle one input. `update` is (source, id) of a platform update: seen before → no-op."""
        with self.sessions() as session:
            try:
                if update is not None:
                    session.execute(insert(ProcessedUpdate).values(
                        source=update[0], update_id=update[1], processed_at=datetime.now(timezone.utc)))
                    inbox.discard(session, *update)   # handled and forgotten in one transaction
                replies = self._dispatch(session, contact, incoming)
                session.commit()
                return replies
            except IntegrityError:
                # A redelivered update, or a double tap racing another process: handle once.
                session.rollback()
                log.info("duplicate input ignored (%s)", update[0] if update else contact.platform)
                if update is not None:
                    inbox.discard(session, *update)
                    session.commit()
                return []

    def _dispatch(self, session: Session, contact: Contact, incoming: Incoming) -> list[Reply]:
        now = datetime.now(timezone.utc)
        resident = find_resident(session, contact)
        if resident is not None and now - resident.last_seen_at > LAST_SEEN_RESOLUTION:
            resident.last_seen_at = now
        turn = Turn(session, self.knowledge, contact, resident, now, self.tz, self.qa, self.bot_username,
                        self.public_url)
        if incoming.kind == "command":
            handler = COMMANDS.get(incoming.text)
            if handler is None:
                return fallback.unknown_command(turn, incoming.text)
            return handler(turn, incoming.args)
        if incoming.kind == "button":
            pressed = decode(incoming.text)
            handler = BUTTONS.get(pressed.action)
            if handler is None:
                return fallback.stale_or_unknown_button(turn)
            return handler(turn, pressed.args)
        if incoming.kind == "text":
            return start.typed_code(turn, incoming.text) or ask.answer_text(turn, incoming.text)
        if incoming.kind == "recording":
            return recording.receive(turn, incoming.data, too_large=incoming.what == "too_large")
        return fallback.unsupported(turn, incoming.what)
