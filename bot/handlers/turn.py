"""Everything one handler call needs: the database session, the content, who is talking."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.ambassadors import deep_link, web_link
from bot.channels import telegram, web, zalo
from bot.content import Knowledge
from bot.content.schema import LanguagePack
from bot.i18n import Translator, translator
from bot.models import AnonymousCounter, Resident
from bot.qa import QaIndex
from bot.replies import Button, Contact
from bot.share_codes import display


@dataclass
class Turn:
    session: Session
    knowledge: Knowledge
    contact: Contact
    resident: Resident | None
    now: datetime
    tz: ZoneInfo
    qa_indexes: dict[str, QaIndex]
    bot_username: str | None = None   # Telegram's, once known: share links need it
    public_url: str | None = None     # the web chat's address (HOCVUSO_PUBLIC_URL): web share links

    @property
    def language(self) -> str:
        return self.resident.language if self.resident else "vi"

    @property
    def pack(self) -> LanguagePack:
        return self.knowledge.pack(self.language)

    @property
    def qa(self) -> QaIndex:
        return self.qa_indexes.get(self.language) or self.qa_indexes[self.knowledge.default_language]

    @property
    def _(self) -> Translator:
        return translator(self.language)

    @property
    def links_open_bot(self) -> bool:
        """A t.me link opens this assistant: in a Telegram chat, once the bot's name is known."""
        return self.contact.platform == "telegram" and bool(self.bot_username)

    @property
    def shares_web_links(self) -> bool:
        """In the web chat, a share button hands a /chat?start= link to the phone's share sheet
        (Zalo, SMS): a web page cannot forward a message as a messenger does."""
        return self.contact.platform == "web" and bool(self.public_url)

    @property
    def hears(self) -> bool:
        """Whether this chat can play a lesson's audio: Telegram sends voice notes, the web chat has a
        player, Zalo fetches the file from our public address (so only with HOCVUSO_PUBLIC_URL)."""
        platform = self.contact.platform
        return platform in (telegram.PLATFORM, web.PLATFORM) or (platform == zalo.PLATFORM and bool(self.public_url))

    def share_button(self, label: str, payload: str, code: str) -> Button:
        """A button that does what the deep link `payload` does: the link itself where it opens the
        assistant, and always the short code, which a channel with no such link shows instead
        (bot.replies.code_line) and which a resident can read out over the phone."""
        if self.shares_web_links:
            return Button(self._("📤 Send to family and neighbours"), url=web_link(self.public_url, payload),
                          code=display(code))
        url = deep_link(self.bot_username, payload) if self.links_open_bot else None
        return Button(label, url=url, code=display(code))

    def local_date(self, moment: datetime | None = None) -> date:
        return (moment or self.now).astimezone(self.tz).date()

    def format_date(self, moment: datetime) -> str:
        return self.local_date(moment).strftime("%d/%m/%Y")

    def upsert(self, model: type, values: dict, keys: list[str], update: dict) -> None:
        """INSERT, or UPDATE the row with the same keys: one statement on SQLite and PostgreSQL."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(insert(model).values(**values).on_conflict_do_update(
            index_elements=keys, set_=update))

    def count(self, name: str) -> None:
        """Bump an anonymous daily counter (no link to any person)."""
        self.upsert(AnonymousCounter, {"day": self.local_date(), "name": name[:64], "count": 1},
                    ["day", "name"], {"count": AnonymousCounter.count + 1})


def small_number(text: str, limit: int = 2**31 - 1) -> int | None:
    """A non-negative number from button data, or None if it is not one we could have sent."""
    if text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
        if value <= limit:
            return value
    return None


def find_resident(session: Session, contact: Contact) -> Resident | None:
    return session.scalars(
        select(Resident).where(
            Resident.platform == contact.platform, Resident.external_id == contact.external_id
        )
    ).one_or_none()
