"""Everything one handler call needs: the database session, the content, who is talking."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

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

    def upsert(self, model: type, values: dict, keys: list[str], *, replace: tuple[str, ...] = (),
               add: tuple[str, ...] = ()) -> None:
        """INSERT, or UPDATE the row with the same keys: one statement on SQLite and PostgreSQL.
        On a conflict the columns in `replace` take the new values and those in `add` are added
        to (a count: `values` holds 1)."""
        # As the ORM statement this was would, first write out pending changes to the session's
        # objects: the statements keep their order. Nothing pending: nothing is written.
        self.session.flush()
        connection = self.session.connection()
        connection.execute(upsert_statement(connection.dialect.name, model.__table__, tuple(keys), replace, add),
                           values)

    def count(self, name: str) -> None:
        """Bump an anonymous daily counter (no link to any person)."""
        self.upsert(AnonymousCounter, {"day": self.local_date(), "name": name[:64], "count": 1},
                    ["day", "name"], add=("count",))


def small_number(text: str, limit: int = 2**31 - 1) -> int | None:
    """A non-negative number from button data, or None if it is not one we could have sent."""
    if text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
        if value <= limit:
            return value
    return None


_UPSERTS: dict[tuple, Insert] = {}


def upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], replace: tuple[str, ...],
                     add: tuple[str, ...]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET replace = the new value, add = old + new, built
    once per dialect and shape: built for every call (as an ORM statement, with the values in
    it), it cost 0.4 ms, more than running it. The values come as parameters, so one statement
    serves every resident, and SQLAlchemy compiles it once."""
    key = (dialect, table.name, keys, replace, add)
    statement = _UPSERTS.get(key)
    if statement is None:
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        set_ = {name: insert.excluded[name] for name in replace}
        set_.update({name: table.c[name] + insert.excluded[name] for name in add})
        statement = _UPSERTS[key] = insert.on_conflict_do_update(index_elements=list(keys), set_=set_)
    return statement


# Built once: every update looks its sender up. The resident stays an ORM object, because
# handlers change it (language, profile, last seen) and the commit writes that.
_FIND_RESIDENT = select(Resident).where(Resident.platform == bindparam("platform"),
                                        Resident.external_id == bindparam("external_id"))


def find_resident(session: Session, contact: Contact) -> Resident | None:
    return session.execute(_FIND_RESIDENT, {"platform": contact.platform,
                                            "external_id": contact.external_id}).scalar_one_or_none()
