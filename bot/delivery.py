"""The delivery engine: one sender drains the outbox into Telegram, within Telegram's limits.

- Overall rate: HOCVUSO_SEND_RATE (default 25/s), or up to 1000/s with paid broadcasts.
- At most 1 message per second per chat, and 20 per minute per group chat.
- 429: every send pauses for retry_after, and the message goes back in the queue.
- 403 (the resident blocked the bot): the resident becomes inactive; no retry.
- 400 "chat not found": failed, no retry.
- Timeouts, network errors, 5xx: retried with backoff, at most MAX_ATTEMPTS times.

Crash safety: a row is claimed ("sending") before it is sent and gets its outcome after.
The sender claims a new row only when fewer than `window` rows are claimed and not yet
recorded, so a kill -9 leaves at most `window` rows in "sending". A restart puts them back
in the queue: at most the in-flight window is sent twice, and nothing is lost.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.content import Knowledge
from bot.models import Broadcast, OutboxMessage, Resident, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (5, 30, 120, 600)          # after the 1st, 2nd, 3rd, 4th failed attempt
CHAT_INTERVAL = 1.05                         # Telegram: about 1 message per second per chat (with a margin)
GROUP_INTERVAL = 3.1                         # ... and 20 per minute in a group
PUSH_PLATFORMS = ("telegram",)               # where a message can be sent unasked
FLUSH_SECONDS = 0.05                         # how often outcomes are written


@dataclass
class Claimed:
    id: int
    chat_id: int
    text: str
    buttons: list | None
    attempts: int


@dataclass
class Outcome:
    id: int
    status: str                 # sent | blocked | failed | queued (retry later)
    error: str | None = None
    retry_at: datetime | None = None
    resident_chat: int | None = None   # for "blocked": mark the resident inactive
    count_attempt: bool = True         # a 429 is not the message's fault


def window_for(rate: float) -> int:
    """Rows in flight: enough to keep the rate with ~0.2 s of latency, and no more (it is
    also the most that a crash can send twice)."""
    return max(4, min(200, math.ceil(rate * 0.2)))


def requeue_abandoned(sessions: sessionmaker[Session]) -> int:
    """Rows left "sending" by a sender that died go back in the queue (run before sending)."""
    with sessions.begin() as session:
        result = session.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                                 .values(status="queued", claimed_at=None))
    return result.rowcount or 0


class Sender:
    def __init__(self, sessions: sessionmaker[Session], bot: Bot, knowledge: Knowledge, rate: float,
                 paid: bool = False):
        self.sessions = sessions
        self.bot = bot
        self.knowledge = knowledge
        self.rate = rate
        self.paid = paid
        self.window = window_for(rate)
        self.postgres = sessions.kw["bind"].dialect.name == "postgresql"
        self._paused_until = 0.0
        self._next_slot = 0.0
        self._last_to_chat: dict[int, float] = {}
        self._outcomes: list[Outcome] = []
        self._in_flight = 0
        self.sent = 0

    # ---- the database side (run in a thread) ---------------------------------------------
    def _claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        with self.sessions.begin() as session:
            due = (select(OutboxMessage.id).where(OutboxMessage.status == "queued", OutboxMessage.due_at <= now)
                   .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit))
            if self.postgres:
                due = due.with_for_update(skip_locked=True)  # several processes: never the same row
            ids = list(session.scalars(due))
            if not ids:
                return []
            # "still queued" in the UPDATE too: where SKIP LOCKED does not exist (SQLite), a second
            # sender that read the same ids claims none of them.
            ids = list(session.scalars(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "queued")
                .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id)))
            if not ids:
                return []
            rows = session.execute(
                select(OutboxMessage.id, Resident.external_id, Resident.platform, Resident.language,
                       OutboxMessage.text, OutboxMessage.buttons, OutboxMessage.attempts, Broadcast.text,
                       Broadcast.courses)
                .join(Resident, Resident.id == OutboxMessage.resident_id)
                .outerjoin(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
                .where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.due_at, OutboxMessage.id)).all()
            claimed, unreachable = [], []
            for oid, external, platform, language, text, buttons, attempts, b_text, b_courses in rows:
                if platform not in PUSH_PLATFORMS or not external.lstrip("-").isdigit():
                    unreachable.append(oid)
                    continue
                if b_text is not None:
                    text, buttons = b_text, self._course_buttons(b_courses or [], language)
                claimed.append(Claimed(oid, int(external), text or "", buttons, attempts))
            if unreachable:
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(unreachable))
                                .values(status="failed", last_error="platform cannot receive messages"))
        return claimed

    def _course_buttons(self, courses: list[str], language: str) -> list:
        pack = self.knowledge.pack(language)
        return [[pack.courses[c].button, f"o:{c}"] for c in courses if c in pack.courses]

    def _record(self, outcomes: list[Outcome]) -> None:
        now = utcnow()
        with self.sessions.begin() as session:
            # The common case, sent, in one statement; the rest (rare) one by one.
            sent = [o.id for o in outcomes if o.status == "sent"]
            if sent:
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(sent))
                                .values(status="sent", sent_at=now, last_error=None, claimed_at=None))
            for o in outcomes:
                if o.status == "sent":
                    continue
                values: dict = {"status": o.status, "last_error": o.error, "claimed_at": None}
                if o.status == "sent":
                    values["sent_at"] = now
                if o.retry_at is not None:
                    values["due_at"] = o.retry_at
                if not o.count_attempt:
                    values["attempts"] = OutboxMessage.attempts - 1
                session.execute(update(OutboxMessage).where(OutboxMessage.id == o.id).values(**values))
                if o.resident_chat is not None:
                    session.execute(update(Resident).where(Resident.platform == "telegram",
                                                           Resident.external_id == str(o.resident_chat))
                                    .values(active=False))

    # ---- the sending side ----------------------------------------------------------------
    async def _pace(self, chat_id: int) -> None:
        """Wait for a slot under the overall rate, any 429 pause, and the chat's own limit."""
        loop = time.monotonic
        while True:
            now = loop()
            wait = max(self._paused_until - now, self._next_slot - now)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self._next_slot = max(self._next_slot, loop()) + 1 / self.rate
        # Reserve the chat's next free moment before waiting, so two messages to one chat
        # claimed together go out a full interval apart.
        spacing = GROUP_INTERVAL if chat_id < 0 else CHAT_INTERVAL
        last = self._last_to_chat.get(chat_id)
        at = loop() if last is None else max(loop(), last + spacing)
        self._last_to_chat[chat_id] = at
        if at > loop():
            await asyncio.sleep(at - loop())

    async def _send(self, message: Claimed) -> None:
        try:
            await self._pace(message.chat_id)
            markup = None
            if message.buttons:
                markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]
                                               for label, data in message.buttons])
            kwargs = {"allow_paid_broadcast": True} if self.paid else {}
            await self.bot.send_message(message.chat_id, message.text, reply_markup=markup, **kwargs)
            outcome = Outcome(message.id, "sent")
            self.sent += 1
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if isinstance(exc.retry_after, timedelta) else exc.retry_after
            self._paused_until = max(self._paused_until, time.monotonic() + float(seconds))
            log.warning("Telegram asked to slow down: pausing all sends for %ss", seconds)
            outcome = Outcome(message.id, "queued", "429 retry_after", count_attempt=False)
        except Forbidden as exc:
            outcome = Outcome(message.id, "blocked", _short(exc), resident_chat=message.chat_id)
        except BadRequest as exc:
            outcome = Outcome(message.id, "failed", _short(exc))
        except (TimedOut, NetworkError, TelegramError) as exc:  # network trouble and 5xx: try again later
            outcome = self._retry(message, _short(exc))
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the sender
            log.exception("unexpected error sending outbox row %s", message.id)
            outcome = self._retry(message, type(exc).__name__)
        self._outcomes.append(outcome)

    @staticmethod
    def _retry(message: Claimed, error: str) -> Outcome:
        if message.attempts >= MAX_ATTEMPTS:
            return Outcome(message.id, "failed", error)
        delay = BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS)) - 1]
        return Outcome(message.id, "queued", error, retry_at=utcnow() + timedelta(seconds=delay))

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        await asyncio.to_thread(self._record, outcomes)
        self._in_flight -= len(outcomes)

    async def run(self, stop: asyncio.Event, idle_poll: float = 1.0, recover: bool = True) -> None:
        """Send until `stop` is set; then finish the messages in flight and record them.

        `recover` first puts back rows a dead sender left "sending". Only the leader runs a
        sender (bot/leader.py), so at its start no other sender holds rows; a second sender
        started alongside must pass recover=False."""
        if recover:
            await asyncio.to_thread(requeue_abandoned, self.sessions)
        tasks: set[asyncio.Task] = set()
        try:
            while not stop.is_set():
                await self._flush()
                free = self.window - self._in_flight
                batch = await asyncio.to_thread(self._claim, free) if free > 0 else []
                self._in_flight += len(batch)
                for message in batch:
                    task = asyncio.create_task(self._send(message))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if batch or self._in_flight:
                    # A steady tick: waking on every outcome cost a claim transaction each time
                    # (measured slower at 1000/s).
                    await asyncio.sleep(FLUSH_SECONDS)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), idle_poll)
                    except asyncio.TimeoutError:
                        pass
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush()


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
