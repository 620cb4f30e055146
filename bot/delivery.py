"""The delivery engine: one sender per channel drains that channel's share of the outbox,
within the channel's rate. It knows no platform: the channel's courier renders and sends, and
answers with a neutral outcome (bot/channels/courier.py).

- Overall rate: the channel's own setting (HOCVUSO_SEND_RATE for Telegram, ZALO_SEND_RATE ...).
- Each chat gets at most one message per the courier's chat interval.
- Throttled (a 429): every send of the channel pauses for retry_after; the message goes back
  in the queue, and the attempt is not counted.
- Stopped (the resident blocked the bot): the resident becomes inactive; no retry.
- Failed (a bad request): no retry.
- Retry later (timeouts, network errors, 5xx): with backoff, at most MAX_ATTEMPTS times.

Crash safety: a row is claimed ("sending") before it is sent and gets its outcome after.
The sender claims a new row only when fewer than `window` rows are claimed and not yet
recorded, so a kill -9 leaves at most `window` rows in "sending". A restart puts them back
in the queue: at most the in-flight window is sent twice, and nothing is lost.
"""
from __future__ import annotations

import asyncio
import heapq
import json
import logging
import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.button_data import Action, encode
from bot.channels.reach import reachable
from bot.channels.courier import Courier, Delivery, Rendered, Result
from bot.content import Knowledge
from bot.models import Broadcast, OutboxMessage, Resident, utcnow
from bot.pacing import SendGate
from bot.replies import Button

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (5, 30, 120, 600)          # after the 1st, 2nd, 3rd, 4th failed attempt
FLUSH_SECONDS = 0.05                         # how often outcomes are written
PRUNE_SECONDS = 60                           # how often chats long quiet are forgotten


@dataclass
class Claimed:
    id: int
    resident_id: int
    chat_id: str
    payload: Any            # the message as the channel renders it
    attempts: int


@dataclass
class Outcome:
    id: int
    status: str                 # sent | blocked | failed | queued (retry later)
    error: str | None = None
    retry_at: datetime | None = None
    resident_id: int | None = None     # for "blocked": mark the resident inactive
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
        cancel_requeued(session)
    return result.rowcount or 0


def fail_unreachable(sessions: sessionmaker[Session]) -> int:
    """Rows for residents nothing can message unasked (the terminal; a web chat whose browser
    allowed no notifications, or dropped them) fail at once rather than wait for ever. A web
    resident with a push subscription is reachable (bot/channels/reach.py): their rows wait."""
    unreachable = select(Resident.id).where(~reachable())
    with sessions.begin() as session:
        result = session.execute(update(OutboxMessage).where(OutboxMessage.status == "queued",
                                                             OutboxMessage.resident_id.in_(unreachable))
                                 .values(status="failed", last_error="cannot be messaged unasked"))
    return result.rowcount or 0


def cancel_requeued(session: Session, ids: list[int] | None = None) -> None:
    """A row of a cancelled broadcast that was being sent at the cancel and comes back to the
    queue (a retry, a 429, a stop, a crash) is cancelled, not sent later."""
    cancelled = select(Broadcast.id).where(Broadcast.status == "cancelled")
    where = [OutboxMessage.status == "queued", OutboxMessage.broadcast_id.in_(cancelled)]
    if ids is not None:
        where.append(OutboxMessage.id.in_(ids))
    session.execute(update(OutboxMessage).where(*where).values(status="cancelled"))


class Sender:
    """Claims due rows of its channel in small batches, paces them out one slot at a time,
    records outcomes.

    Pacing lives in one dispatcher task rather than in each send: at 1000/s, a sleeping task
    per message woke up at every slot and cost more CPU than the sends."""

    def __init__(self, sessions: sessionmaker[Session], courier: Courier, knowledge: Knowledge,
                 rate: float, gate: SendGate | None = None):
        self.sessions = sessions
        self.courier = courier
        self.platform = courier.platform
        self.knowledge = knowledge
        self.rate = rate
        self.window = window_for(rate)
        self.postgres = sessions.kw["bind"].dialect.name == "postgresql"
        # The channel's replies share this clock and go first (bot/pacing.py).
        self.gate = gate or SendGate(rate)
        self._last_sent: dict[str, float] = {}              # chat -> when its last message went
        self._set_aside_until: dict[str, float] = {}        # chat -> when its last one set aside may go
        self._ready: deque[Claimed] = deque()               # claimed, waiting for a slot
        self._later: list[tuple[float, int, Claimed]] = []  # heap: waiting for their chat's interval
        self._queued = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._outcomes: list[Outcome] = []
        self._in_flight = 0
        self._rendered: dict[tuple[int, str], Rendered] = {}
        self._longest_interval = 0.0
        self.sent = 0

    # ---- the database side (run in a thread) ---------------------------------------------
    def _claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        with self.sessions.begin() as session:
            due = (select(OutboxMessage.id).join(Resident, Resident.id == OutboxMessage.resident_id)
                   .where(OutboxMessage.status == "queued", OutboxMessage.due_at <= now,
                          Resident.platform == self.platform)
                   .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit))
            if self.postgres:   # several processes: never the same row
                due = due.with_for_update(skip_locked=True, of=OutboxMessage)
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
                select(OutboxMessage.id, Resident.id, Resident.external_id, Resident.language,
                       OutboxMessage.text, OutboxMessage.buttons, OutboxMessage.attempts, Broadcast.id,
                       Broadcast.text, Broadcast.courses)
                .join(Resident, Resident.id == OutboxMessage.resident_id)
                .outerjoin(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
                .where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.due_at, OutboxMessage.id)).all()
            claimed = []
            offered: dict[str, list[int]] = defaultdict(list)   # choices (as JSON) -> residents
            for oid, resident_id, external, language, text, buttons, attempts, b_id, b_text, b_courses in rows:
                if b_text is not None:
                    # One rendering per broadcast and language, made once.
                    key = (b_id, language)
                    if key not in self._rendered:
                        if len(self._rendered) > 1000:  # a sender runs for months
                            self._rendered.clear()
                        self._rendered[key] = self.courier.render(
                            b_text, self._course_buttons(b_courses or [], language), language)
                    rendered = self._rendered[key]
                else:
                    rendered = self.courier.render(text or "", _rows(buttons), language)
                if rendered.choices:
                    offered[json.dumps(rendered.choices, sort_keys=True)].append(resident_id)
                claimed.append(Claimed(oid, resident_id, external, rendered.payload, attempts))
            # The numbers a resident may type now press these buttons (channels without buttons).
            for choices, residents in offered.items():
                session.execute(update(Resident).where(Resident.id.in_(residents))
                                .values(offered_choices=json.loads(choices)))
        return claimed

    def _course_buttons(self, courses: list[str], language: str) -> list[list[Button]]:
        return course_buttons(self.knowledge.pack(language), courses)

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
                if o.retry_at is not None:
                    values["due_at"] = o.retry_at
                if not o.count_attempt:
                    values["attempts"] = OutboxMessage.attempts - 1
                session.execute(update(OutboxMessage).where(OutboxMessage.id == o.id).values(**values))
                if o.resident_id is not None:
                    session.execute(update(Resident).where(Resident.id == o.resident_id).values(active=False))
            requeued = [o.id for o in outcomes if o.status == "queued"]
            if requeued:
                cancel_requeued(session, requeued)

    # ---- the sending side ----------------------------------------------------------------
    def _spacing(self, chat_id: str) -> float:
        interval = self.courier.chat_interval(chat_id)
        self._longest_interval = max(self._longest_interval, interval)
        return interval

    def _chat_free_at(self, chat_id: str) -> float:
        last = self._last_sent.get(chat_id)
        return -math.inf if last is None else last + self._spacing(chat_id)

    def _next_due(self, now: float) -> Claimed | None:
        """The next message its chat may receive now: one set aside whose chat interval has
        passed first, else the oldest claimed (set aside if its chat had a message too recently)."""
        while self._later and self._later[0][0] <= now:
            _, oid, message = heapq.heappop(self._later)
            free_at = self._chat_free_at(message.chat_id)
            if free_at <= now:
                return message
            heapq.heappush(self._later, (free_at, oid, message))  # the chat's previous message went late
        while self._ready:
            message = self._ready.popleft()
            chat = message.chat_id
            free_at = self._chat_free_at(chat)
            if chat in self._set_aside_until:  # behind the messages to this chat already set aside
                free_at = max(free_at, self._set_aside_until[chat] + self._spacing(chat))
            if free_at <= now:
                return message
            self._set_aside_until[chat] = free_at
            heapq.heappush(self._later, (free_at, message.id, message))
        return None

    async def _dispatch(self) -> None:
        """Start one send per due slot of the gate (bot/pacing.py), honouring a 429 pause and
        each chat's interval; replies to residents may have reserved the next slots first."""
        gate = self.gate
        clock = time.monotonic
        while True:
            now = clock()
            if gate.paused_until > now:
                await asyncio.sleep(gate.paused_until - now)
                continue
            while gate.due(now):
                message = self._next_due(now)
                if message is None:
                    break
                gate.take(now)
                self._last_sent[message.chat_id] = now
                task = asyncio.create_task(self._send(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._ready:
                await asyncio.sleep(gate.next_slot - now)
                continue
            # Nothing claimed is waiting for a slot: sleep until a message set aside may go,
            # or until the next claim.
            self._queued.clear()
            timeout = max(gate.next_slot, self._later[0][0]) - now if self._later else None
            try:
                await asyncio.wait_for(self._queued.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _forget_old_chats(self) -> None:
        """Chats with no message for longer than any interval need no entry (a long run reaches
        every resident)."""
        horizon = time.monotonic() - self._longest_interval
        self._last_sent = {c: t for c, t in self._last_sent.items() if t > horizon}
        self._set_aside_until = {c: t for c, t in self._set_aside_until.items() if t > horizon}

    async def _send(self, message: Claimed) -> None:
        try:
            delivery = await self.courier.send(message.chat_id, message.payload)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the sender
            log.exception("unexpected error sending outbox row %s", message.id)
            delivery = Delivery(Result.RETRY, type(exc).__name__)
        self._outcomes.append(self._outcome(message, delivery))

    def _outcome(self, message: Claimed, delivery: Delivery) -> Outcome:
        result = delivery.result
        if result is Result.SENT:
            self.sent += 1
            return Outcome(message.id, "sent")
        if result is Result.THROTTLED:
            self.gate.pause(delivery.retry_after)
            log.warning("%s asked to slow down: pausing all sends for %ss", self.platform, delivery.retry_after)
            return Outcome(message.id, "queued", delivery.error, count_attempt=False)
        if result is Result.STOPPED:
            return Outcome(message.id, "blocked", delivery.error, resident_id=message.resident_id)
        if result is Result.FAILED:
            return Outcome(message.id, "failed", delivery.error)
        return self._retry(message, delivery.error or "retry")

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
        """Send until `stop` is set; then finish the sends under way, put back the claimed rows
        not yet sent, and record it all.

        `recover` first puts back rows a dead sender left "sending". Only the leader runs a
        sender (bot/leader.py), so at its start no other sender holds rows; a second sender
        started alongside must pass recover=False."""
        if recover:
            await asyncio.to_thread(requeue_abandoned, self.sessions)
        dispatcher = asyncio.create_task(self._dispatch())
        pruned = time.monotonic()
        try:
            while not stop.is_set():
                await self._flush()
                if time.monotonic() - pruned > PRUNE_SECONDS:
                    self._forget_old_chats()
                    pruned = time.monotonic()
                free = self.window - self._in_flight
                batch = await asyncio.to_thread(self._claim, free) if free > 0 else []
                if free > 0 and len(batch) < free and await asyncio.to_thread(queue_more, self.sessions, utcnow()):
                    # The queue ran low: a broadcast's next window was made (admin_api/broadcast_queue.py).
                    batch += await asyncio.to_thread(self._claim, free - len(batch))
                if batch:
                    self._in_flight += len(batch)
                    self._ready.extend(batch)
                    self._queued.set()
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
            dispatcher.cancel()
            await asyncio.gather(dispatcher, return_exceptions=True)
            # Claimed but never started: back in the queue, not counted as an attempt.
            unsent = [*self._ready, *(entry[2] for entry in self._later)]
            self._ready.clear()
            self._later.clear()
            self._outcomes.extend(Outcome(m.id, "queued", None, count_attempt=False) for m in unsent)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._flush()


def queue_more(sessions: sessionmaker[Session], now: datetime) -> int:
    """A broadcast's next window of rows, when the senders' queue runs low."""
    from admin_api.broadcast_queue import queue_more as make   # admin_api imports bot: not at the top
    return make(sessions, now)


def _rows(buttons: list | None) -> list[list[Button]]:
    """An outbox row's buttons ([label, data] pairs) as keyboard rows, one button per row."""
    return [[Button(label, data)] for label, data in buttons or []]


def course_buttons(pack, courses: list[str]) -> list[list[Button]]:
    """A broadcast's buttons: one per course it offers, each opening that course."""
    return [[Button(pack.courses[c].button, encode(Action.OPEN_COURSE, c))] for c in courses if c in pack.courses]
