"""Platform updates written down before they are acknowledged.

Telegram never sends an update again once it has our webhook's 200, or once a long poll has
asked for the next offset. So each update is stored first (one short transaction), then
acknowledged, then handled; the transaction that handles it also deletes it (see
Assistant.handle). After a kill -9, what is left is handled at the next start.
"""
from __future__ import annotations

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.models import InboxUpdate, utcnow

MAX_REPLAYS = 3   # an update that failed this many restarts is dropped, not retried for ever


# INSERT ... ON CONFLICT DO NOTHING, built once per dialect: this runs for every update before
# it is acknowledged, so it goes on a bare connection with the values as parameters.
_STORE = {name: dialect.insert(InboxUpdate.__table__).on_conflict_do_nothing(index_elements=["source", "update_id"])
          for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def store(connection: Connection, source: str, update_id: int, chat_id: str | None, body: dict) -> None:
    """Insert the update; a copy already stored (a redelivery) is left as it is."""
    connection.execute(_STORE[connection.dialect.name], {
        "source": source, "update_id": update_id, "chat_id": chat_id, "body": body, "received_at": utcnow(),
        "replays": 0})


_DISCARD = delete(InboxUpdate.__table__).where(InboxUpdate.__table__.c.source == bindparam("source"),
                                                 InboxUpdate.__table__.c.update_id == bindparam("update_id"))


def discard(session: Session, source: str, update_id: int) -> None:
    """Delete the stored update in the session's transaction (the one that handles it). A Core
    statement, so straight on the session's connection: the ORM has nothing to do here."""
    session.connection().execute(_DISCARD, {"source": source, "update_id": update_id})


def take_leftovers(sessions: sessionmaker[Session], source: str) -> list[dict]:
    """The updates stored but never handled (the process died), oldest first, counted as one
    more replay; those replayed MAX_REPLAYS times already are dropped."""
    with sessions.begin() as session:
        where = (InboxUpdate.source == source,)
        session.execute(delete(InboxUpdate).where(*where, InboxUpdate.replays >= MAX_REPLAYS))
        bodies = list(session.scalars(select(InboxUpdate.body).where(*where).order_by(InboxUpdate.update_id)))
        session.execute(update(InboxUpdate).where(*where).values(replays=InboxUpdate.replays + 1))
    return bodies

