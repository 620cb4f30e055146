"""The outbox sender against the fake Bot API, with Telegram's limits and errors switched on:
429 with retry_after, 403, 400, timeouts, 5xx, a crash mid-broadcast, and two senders on
PostgreSQL sharing one outbox."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

import bot.channels.telegram.courier as telegram_courier
import bot.delivery as delivery
from bot.channels.telegram.request import AiohttpRequest
from admin_api.audience import recipients
from admin_api.schemas import Audience
from bot.delivery import Sender, requeue_abandoned
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.poster import MessagePoster
from bot.models import Broadcast, OutboxMessage, Resident

FIRST_CHAT = 7000


def add_residents(sessions, n: int, first: int = FIRST_CHAT) -> list[int]:
    now = datetime.now(timezone.utc)
    with sessions() as session:
        session.add_all([Resident(platform="telegram", external_id=str(first + i), first_name=None, consent_at=now,
                                  consent_version="1") for i in range(n)])
        session.commit()
        return [first + i for i in range(n)]


def queue_broadcast(sessions, text: str = "Thông báo của xã", courses: list[str] | None = None) -> int:
    """What POST /api/v1/broadcasts does: one row per resident of the audience."""
    now = datetime.now(timezone.utc)
    with sessions() as session:
        broadcast = Broadcast(text=text, courses=courses or [], audience={}, due_at=now, created_by="test")
        session.add(broadcast)
        session.flush()
        ids = session.scalars(recipients(Audience())).all()
        session.add_all([OutboxMessage(kind="broadcast", broadcast_id=broadcast.id, resident_id=rid, due_at=now,
                                       status="queued", attempts=0) for rid in ids])
        broadcast.recipients = len(ids)
        session.commit()
        return broadcast.id


def statuses(sessions) -> Counter:
    with sessions() as session:
        return Counter(dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
                            .all()))


def make_poster(fake_api, read_timeout: float = 5.0) -> MessagePoster:
    """The sender's poster, as `hocvuso serve` makes it: python-telegram-bot's request layer on aiohttp."""
    request = AiohttpRequest(connection_pool_size=64, read_timeout=read_timeout, connect_timeout=5)
    return MessagePoster(fake_api.token, fake_api.url, request)


async def drain(sender: Sender, sessions, timeout: float = 30.0, until=None) -> float:
    """Run the sender until nothing is queued or sending (or `until()`); returns the seconds taken."""
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sender.run(stop, idle_poll=0.05))
    until = until or (lambda: not ({"queued", "sending"} & set(+statuses(sessions))))
    try:
        while not await asyncio.to_thread(until):
            assert time.monotonic() - started < timeout, f"not drained: {statuses(sessions)}"
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return time.monotonic() - started


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.1, 0.1, 0.1, 0.1))


async def test_a_broadcast_reaches_everyone_once_within_the_rate(fake_api, sessions, knowledge):
    chats = add_residents(sessions, 40)
    fake_api.global_rate, fake_api.per_chat_interval = 30, 1.0
    queue_broadcast(sessions, courses=["vneid"])
    async with make_poster(fake_api) as poster:
        took = await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=20), sessions)
    assert statuses(sessions) == Counter(sent=40)
    assert sorted(r.chat_id for r in fake_api.sent) == chats and not fake_api.duplicates()
    assert fake_api.rate_limited == 0
    assert took >= 39 / 20 * 0.95  # never faster than the configured 20/s
    [[(label, data)]] = [[(b["text"], b["callback_data"]) for b in row]
                         for row in fake_api.sent[0].reply_markup["inline_keyboard"]]
    assert data == "o:vneid" and label


async def test_429_pauses_all_sending_for_retry_after(fake_api, sessions, knowledge):
    add_residents(sessions, 12)
    fake_api.global_rate, fake_api.retry_after_seconds = 4, 1
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    assert fake_api.rate_limited > 0
    assert statuses(sessions) == Counter(sent=12) and not fake_api.duplicates()
    with sessions() as session:  # a 429 is not counted against the message's attempts
        assert session.scalar(select(func.max(OutboxMessage.attempts))) == 1


async def test_403_marks_the_resident_inactive_and_leaves_them_out_later(fake_api, sessions, knowledge):
    chats = add_residents(sessions, 3)
    fake_api.blocked_chats = {chats[1]}
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    assert statuses(sessions) == Counter(sent=2, blocked=1)
    with sessions() as session:
        assert session.scalar(select(Resident.active).where(Resident.external_id == str(chats[1]))) is False
        assert session.scalar(select(func.max(OutboxMessage.attempts))) == 1  # no retry
        assert len(session.scalars(recipients(Audience())).all()) == 2


async def test_chat_not_found_fails_without_retry(fake_api, sessions, knowledge):
    chats = add_residents(sessions, 2)
    fake_api.known_chats = {chats[0]}
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    assert statuses(sessions) == Counter(sent=1, failed=1)
    with sessions() as session:
        failed = session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
        assert failed.attempts == 1 and "chat not found" in failed.last_error.lower()


async def test_timeouts_and_5xx_are_retried_with_backoff_then_given_up(fake_api, sessions, knowledge, fast_backoff):
    add_residents(sessions, 3)
    fake_api.stall_next(1, 2.0, deliver=False)        # a timeout
    fake_api.fail_sends_with(502, "Bad Gateway", 1)   # a 5xx
    queue_broadcast(sessions)
    async with make_poster(fake_api, read_timeout=0.5) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    assert statuses(sessions) == Counter(sent=3)
    with sessions() as session:
        assert sorted(session.scalars(select(OutboxMessage.attempts))) == [1, 2, 2]
    # A chat that always fails is given up after MAX_ATTEMPTS, not retried for ever.
    add_residents(sessions, 1, first=9000)
    with sessions() as session:
        session.execute(OutboxMessage.__table__.delete())
        session.commit()
    queue_broadcast(sessions)
    fake_api.fail_sends_with(502, "Bad Gateway", 100)
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    with sessions() as session:
        attempts = dict(session.execute(select(OutboxMessage.status, func.max(OutboxMessage.attempts))
                                        .group_by(OutboxMessage.status)).all())
    assert attempts == {"failed": delivery.MAX_ATTEMPTS}


async def test_one_message_per_second_per_chat(fake_api, sessions, knowledge):
    [chat] = add_residents(sessions, 1)
    fake_api.per_chat_interval = 1.0
    for n in range(3):
        queue_broadcast(sessions, text=f"tin {n}")
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=25), sessions)
    times = [r.ts for r in fake_api.sent_to(chat)]
    assert len(times) == 3 and fake_api.rate_limited == 0
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:]))


async def test_a_group_waits_its_interval_without_holding_back_the_others(fake_api, sessions, knowledge, monkeypatch):
    # Telegram's limit is 3 s and the sender keeps 3.1: the same logic, quicker, with the same kind
    # of margin, since the fake API times arrivals, a little after the sender's own clock.
    monkeypatch.setattr(telegram_courier, "GROUP_INTERVAL", 0.7)
    [group] = add_residents(sessions, 1, first=-1001234)
    people = add_residents(sessions, 8)
    queue_broadcast(sessions, text="tin 1")
    queue_broadcast(sessions, text="tin 2")
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    first, second = [r.ts for r in fake_api.sent_to(group)]
    assert second - first >= 0.6
    # Every resident's two messages went while the group's second one waited its turn.
    assert all(len(fake_api.sent_to(c)) == 2 for c in people) and fake_api.rate_limited == 0
    assert max(r.ts for r in fake_api.sent if r.chat_id != group and r.text == "tin 1") < second


async def test_paid_broadcasts_go_faster_than_the_free_limit(fake_api, sessions, knowledge):
    add_residents(sessions, 120)
    fake_api.global_rate, fake_api.paid_rate = 30, 1000
    queue_broadcast(sessions, courses=["vneid"])
    async with make_poster(fake_api) as poster:
        took = await drain(Sender(sessions, TelegramCourier(poster, paid=True), knowledge, rate=300), sessions)
    assert statuses(sessions) == Counter(sent=120) and fake_api.rate_limited == 0
    assert all(r.allow_paid_broadcast for r in fake_api.sent)
    assert took < 120 / 30  # more than the 30/s a free broadcast may use


async def test_stopping_puts_back_what_was_claimed_but_not_yet_sent(fake_api, sessions, knowledge):
    add_residents(sessions, 12)
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        sender = Sender(sessions, TelegramCourier(poster), knowledge, rate=2)   # claims 4, sends 2 a second
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop, idle_poll=0.05))
        while len(fake_api.sent) < 2:
            await asyncio.sleep(0.01)
        stop.set()
        await task
    left = statuses(sessions)
    assert left["sent"] == len(fake_api.sent) and left["sent"] + left["queued"] == 12 and not left["sending"]
    with sessions() as session:  # waiting for a slot is not an attempt
        attempts = session.scalars(select(OutboxMessage.attempts).where(OutboxMessage.status == "queued")).all()
    assert set(attempts) == {0}


async def test_a_crash_mid_broadcast_loses_nothing_and_repeats_at_most_the_window(fake_api, sessions, knowledge):
    add_residents(sessions, 30)
    fake_api.send_delay = 0.02
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        first = Sender(sessions, TelegramCourier(poster), knowledge, rate=40)
        stop = asyncio.Event()
        task = asyncio.create_task(first.run(stop, idle_poll=0.05))
        while len(fake_api.sent) < 10:
            await asyncio.sleep(0.01)
        task.cancel()  # a crash: no chance to record what was in flight
        await asyncio.gather(task, return_exceptions=True)
        crashed = statuses(sessions)
        assert crashed["sending"] <= first.window
        assert requeue_abandoned(sessions) == crashed["sending"]
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=40), sessions)
    assert statuses(sessions) == Counter(sent=30)
    assert len({r.chat_id for r in fake_api.sent}) == 30                       # nothing lost
    assert sum(n - 1 for n in fake_api.duplicates().values()) <= first.window   # repeats bounded


async def test_two_senders_share_one_outbox_without_duplicates(fake_api, sessions, knowledge, database_url):
    add_residents(sessions, 60)
    fake_api.send_delay = 0.01
    queue_broadcast(sessions)
    async with make_poster(fake_api) as poster:
        a, b = Sender(sessions, TelegramCourier(poster), knowledge, rate=60), Sender(sessions, TelegramCourier(poster), knowledge, rate=60)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop, idle_poll=0.05, recover=False)) for s in (a, b)]
        deadline = time.monotonic() + 30
        while statuses(sessions) != Counter(sent=60):
            assert time.monotonic() < deadline, statuses(sessions)
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
    assert not fake_api.duplicates() and len(fake_api.sent) == 60
    if database_url.startswith("postgresql"):
        assert a.sent > 0 and b.sent > 0  # FOR UPDATE SKIP LOCKED: both took a share


async def test_messages_due_later_wait(fake_api, sessions, knowledge):
    add_residents(sessions, 2)
    queue_broadcast(sessions)
    with sessions() as session:
        session.execute(OutboxMessage.__table__.update().values(
            due_at=datetime.now(timezone.utc) + timedelta(hours=10)))
        session.commit()
    async with make_poster(fake_api) as poster:
        sender = Sender(sessions, TelegramCourier(poster), knowledge, rate=50)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop, idle_poll=0.05))
        await asyncio.sleep(0.5)
        stop.set()
        await task
    assert statuses(sessions) == Counter(queued=2) and not fake_api.sent


async def test_reminders_and_announcements_arrive_with_their_buttons(fake_api, assistant, sessions, knowledge):
    """A lesson reminder queued on a simulated clock reaches the resident with its buttons."""
    from bot.scheduler import reminder_jobs
    from tests.core_helpers import Chat

    chat = Chat(assistant, "8001", platform="telegram")
    chat.consent_and_skip_profile()
    chat.cmd("menu")
    chat.tap("o:vneid")
    later = datetime.now(timezone.utc).replace(hour=3) + timedelta(days=4)  # 10:00 in Viet Nam
    assert reminder_jobs(sessions, knowledge, "Asia/Ho_Chi_Minh", (datetime.min.time(), datetime.min.time()), 3,
                         now=later) == 1
    with sessions() as session:  # the clock moves on: the reminder is due now
        session.execute(OutboxMessage.__table__.update().values(due_at=datetime.now(timezone.utc)))
        session.commit()
    async with make_poster(fake_api) as poster:
        await drain(Sender(sessions, TelegramCourier(poster), knowledge, rate=50), sessions)
    [record] = fake_api.sent_to(8001)
    buttons = [b["callback_data"] for row in record.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["s:vneid:0", "rm:0"] and "VNeID" in record.text
