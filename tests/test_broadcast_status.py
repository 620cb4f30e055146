"""A broadcast's status follows its messages, over real HTTP, on SQLite and PostgreSQL:
queued -> sending -> done as the real sender works through the outbox (failed and blocked
messages are outcomes too), and cancelling stops only the messages still queued.

Where the sender itself is not under test, outbox rows are set as the sender leaves them
(bot/delivery.py): claimed rows are "sending" with one attempt more, outcomes are recorded
with their error, and a retry goes back to "queued" with its error and a later due time."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.channels.telegram.request import AiohttpRequest
from bot.delivery import Sender
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.poster import MessagePoster
from bot.models import AuditEntry, Broadcast, OutboxMessage, Resident
from bot.web import create_app
from tests.http_helpers import serving

ADMIN = "admin-token-for-broadcast-status-0123456789"
FIRST_CHAT = 5000
# Urgent, so quiet hours never hold it back whatever the hour in the commune.
ANNOUNCEMENT = {"text": "Chủ nhật này có lớp học VNeID ở nhà văn hoá.", "urgent": True}


@pytest.fixture
def api(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers.update({"Authorization": f"Bearer {ADMIN}"})
        yield client


def add_residents(sessions, n: int) -> list[int]:
    """Residents the sender can reach: on Telegram, with numeric chat ids."""
    now = datetime.now(timezone.utc)
    with sessions() as session:
        session.add_all([Resident(platform="telegram", external_id=str(FIRST_CHAT + i), first_name=None,
                                  consent_at=now, consent_version="1") for i in range(n)])
        session.commit()
    return [FIRST_CHAT + i for i in range(n)]


def create(api, body: dict = ANNOUNCEMENT) -> dict:
    response = api.post("/api/v1/broadcasts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def read(api, broadcast_id: int) -> dict:
    response = api.get(f"/api/v1/broadcasts/{broadcast_id}")
    assert response.status_code == 200, response.text
    return response.json()


def cancel(api, broadcast_id: int):
    return api.post(f"/api/v1/broadcasts/{broadcast_id}/cancel")


def counts(body: dict) -> dict:
    return {k: body[k] for k in ("queued", "sending", "sent", "failed", "blocked", "cancelled") if body[k]}


def conflict(response) -> dict:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["field"] == "broadcast_id" and error["message"]["vi"] and error["message"]["en"]
    return error


# ---- outbox rows as the sender leaves them ------------------------------------------------

def as_the_sender_leaves_it(kind: str) -> dict:
    now = datetime.now(timezone.utc)
    return {
        "sending": {"status": "sending", "attempts": 1, "claimed_at": now},
        "sent": {"status": "sent", "attempts": 1, "sent_at": now},
        "failed": {"status": "failed", "attempts": 1, "last_error": "BadRequest: Chat not found"},
        "blocked": {"status": "blocked", "attempts": 1, "last_error": "Forbidden: bot was blocked by the user"},
        # A timeout: back in the queue for a retry in 5 s, the attempt counted.
        "retry": {"status": "queued", "attempts": 1, "last_error": "TimedOut: Timed out",
                  "due_at": now + timedelta(seconds=5)},
        # A 429: back in the queue, the attempt given back (not the message's fault).
        "rate_limited": {"status": "queued", "attempts": 0, "last_error": "429 retry_after"},
    }[kind]


def move_rows(sessions, broadcast_id: int, *kinds: str) -> None:
    """The broadcast's first rows (by id) move on as the sender would move them; the rest stay queued."""
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
                               .order_by(OutboxMessage.id)).all()
        assert len(rows) >= len(kinds)
        for row, kind in zip(rows, kinds):
            for column, value in as_the_sender_leaves_it(kind).items():
                setattr(row, column, value)
        session.commit()


def row_states(sessions, broadcast_id: int) -> list[tuple[str, datetime | None]]:
    with sessions() as session:
        return session.execute(select(OutboxMessage.status, OutboxMessage.sent_at)
                               .where(OutboxMessage.broadcast_id == broadcast_id).order_by(OutboxMessage.id)).all()


def cancels_audited(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "broadcast.cancel"))


def stored_mark(sessions, broadcast_id: int) -> str:
    with sessions() as session:
        return session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))


# ---- the real sender against the fake Bot API -----------------------------------------------

@asynccontextmanager
async def sender_running(sessions, knowledge, fake_api, rate: float):
    """The delivery engine's sender, as `hocvuso serve` runs it, until the block ends."""
    request = AiohttpRequest(connection_pool_size=16, read_timeout=5, connect_timeout=5)
    async with MessagePoster(fake_api.token, fake_api.url, request) as poster:
        stop = asyncio.Event()
        task = asyncio.create_task(Sender(sessions, TelegramCourier(poster), knowledge, rate=rate).run(stop, idle_poll=0.05))
        try:
            yield
        finally:
            stop.set()
            await task


async def eventually(check, timeout: float = 20.0):
    """Polls `check` (run in a thread: it may call the API or the database) until it is true."""
    deadline = time.monotonic() + timeout
    while not (result := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return result


def nothing_in_flight(sessions, broadcast_id: int) -> bool:
    return all(status not in ("queued", "sending") for status, _ in row_states(sessions, broadcast_id))


# ---- the tests ---------------------------------------------------------------------------------

async def test_status_goes_queued_sending_done_as_the_sender_works(api, sessions, knowledge, fake_api):
    add_residents(sessions, 6)
    created = await asyncio.to_thread(create, api)
    assert created["status"] == "queued" and created["recipients"] == 6
    assert (await asyncio.to_thread(read, api, created["id"]))["status"] == "queued"
    async with sender_running(sessions, knowledge, fake_api, rate=2):   # 6 messages take about 3 s
        await eventually(lambda: fake_api.sent)
        midway = await asyncio.to_thread(read, api, created["id"])
        assert midway["status"] == "sending", midway
        assert midway["sent"] + midway["sending"] >= 1 and midway["queued"] + midway["sending"] >= 1
        assert sum(counts(midway).values()) == 6
        done = await eventually(lambda: (body := read(api, created["id"]))["status"] == "done" and body)
    assert counts(done) == {"sent": 6} and len(fake_api.sent) == 6
    assert nothing_in_flight(sessions, created["id"])


async def test_failed_and_blocked_messages_are_outcomes_so_the_broadcast_is_done(api, sessions, knowledge,
                                                                                   fake_api):
    chats = add_residents(sessions, 4)
    fake_api.blocked_chats = {chats[1]}                        # 403: blocked the bot
    fake_api.known_chats = {chats[0], chats[1], chats[3]}      # 400 "chat not found" for chats[2]
    created = await asyncio.to_thread(create, api)
    async with sender_running(sessions, knowledge, fake_api, rate=50):
        await eventually(lambda: nothing_in_flight(sessions, created["id"]))
    body = read(api, created["id"])
    assert body["status"] == "done" and counts(body) == {"sent": 2, "failed": 1, "blocked": 1}


@pytest.mark.parametrize("kinds, expected", [
    (("sending",), "sending"),                                 # claimed: on its way to Telegram
    (("sent",), "sending"),
    (("failed",), "sending"),
    (("retry",), "sending"),                                   # tried, waiting for its retry
    (("rate_limited",), "sending"),                            # a 429: its attempt given back
    (("sent", "sent", "sent", "sending"), "sending"),          # the last one in flight
    (("sent", "failed", "blocked", "sent"), "done"),
    (("blocked", "blocked", "blocked", "blocked"), "done"),
])
def test_status_follows_the_rows(api, sessions, kinds, expected):
    add_residents(sessions, 4)
    created = create(api)
    move_rows(sessions, created["id"], *kinds)
    assert read(api, created["id"])["status"] == expected


def test_a_broadcast_to_nobody_is_done_at_once_and_cannot_be_cancelled(api, sessions):
    created = create(api)
    assert created["recipients"] == 0 and created["status"] == "done"
    conflict(cancel(api, created["id"]))
    assert read(api, created["id"])["status"] == "done" and cancels_audited(sessions) == 0


def test_cancelling_a_done_broadcast_is_409_and_changes_nothing(api, sessions):
    add_residents(sessions, 3)
    created = create(api)
    move_rows(sessions, created["id"], "sent", "failed", "blocked")
    before, rows_before = read(api, created["id"]), row_states(sessions, created["id"])
    assert before["status"] == "done"
    error = conflict(cancel(api, created["id"]))
    assert error["message"]["en"] == "This broadcast has no message left to cancel"
    assert read(api, created["id"]) == before and row_states(sessions, created["id"]) == rows_before
    assert stored_mark(sessions, created["id"]) != "cancelled" and cancels_audited(sessions) == 0


def test_a_broadcast_whose_last_messages_are_in_flight_cannot_be_cancelled(api, sessions):
    """Nothing is left to stop: a cancel that stopped nothing would show "cancelled" on a
    broadcast every resident received."""
    add_residents(sessions, 3)
    created = create(api)
    move_rows(sessions, created["id"], "sent", "sent", "sending")
    conflict(cancel(api, created["id"]))
    assert read(api, created["id"])["status"] == "sending" and cancels_audited(sessions) == 0
    move_rows(sessions, created["id"], "sent", "sent", "sent")    # the sender records the last one
    assert read(api, created["id"])["status"] == "done"


def test_cancelling_mid_way_stops_only_the_queued_messages(api, sessions):
    add_residents(sessions, 10)
    created = create(api)
    move_rows(sessions, created["id"], "sent", "sent", "sent", "failed", "blocked", "sending", "retry")
    rows_before = row_states(sessions, created["id"])
    response = cancel(api, created["id"])
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert counts(cancelled) == {"sent": 3, "failed": 1, "blocked": 1, "sending": 1, "cancelled": 4}
    # Rows with an outcome or on their way keep it (sent ones their sent_at); queued ones are stopped.
    after = row_states(sessions, created["id"])
    assert after[:6] == rows_before[:6] and [s for s, _ in after[6:]] == ["cancelled"] * 4
    assert read(api, created["id"]) == cancelled and cancels_audited(sessions) == 1


async def test_a_cancelled_broadcast_stays_cancelled_while_the_sender_finishes(api, sessions, knowledge,
                                                                               fake_api):
    add_residents(sessions, 20)
    created = await asyncio.to_thread(create, api)
    async with sender_running(sessions, knowledge, fake_api, rate=2):   # claims 4 at a time, sends 2 a second
        await eventually(lambda: len(fake_api.sent) >= 2)
        assert (await asyncio.to_thread(read, api, created["id"]))["status"] == "sending"
        response = await asyncio.to_thread(cancel, api, created["id"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled" and response.json()["queued"] == 0
        # The rows claimed before the cancel are still sent; then nothing more goes out.
        await eventually(lambda: nothing_in_flight(sessions, created["id"]))
        await asyncio.sleep(1.0)
        later = await asyncio.to_thread(read, api, created["id"])
    assert later["status"] == "cancelled"   # every row has an outcome now, and still not "done"
    assert counts(later) == {"sent": len(fake_api.sent), "cancelled": 20 - len(fake_api.sent)}
    assert later["cancelled"] == response.json()["cancelled"] > 0
    error = conflict(cancel(api, created["id"]))
    assert error["message"]["en"] == "This broadcast is already cancelled"
    assert read(api, created["id"]) == later and cancels_audited(sessions) == 1


async def test_a_message_in_flight_at_the_cancel_that_fails_is_not_sent_later(api, sessions, knowledge, fake_api):
    """A message being sent when the official cancels, then answered 502, would go back to the
    queue for a retry: it is cancelled instead, so nothing goes out after the cancel."""
    add_residents(sessions, 6)
    created = await asyncio.to_thread(create, api)
    fake_api.send_delay = 1.0                 # the first messages are still on their way at the cancel
    fake_api.fail_sends_with(502, count=6)    # ... and come back as a server error (a retry)
    async with sender_running(sessions, knowledge, fake_api, rate=2):
        await eventually(lambda: any(s == "sending" for s, _ in row_states(sessions, created["id"])))
        response = await asyncio.to_thread(cancel, api, created["id"])
        assert response.status_code == 200, response.text
        await eventually(lambda: nothing_in_flight(sessions, created["id"]))
    fake_api.send_delay = 0.0
    assert {s for s, _ in row_states(sessions, created["id"])} == {"cancelled"}
    assert fake_api.sent == []
    later = read(api, created["id"])
    assert later["status"] == "cancelled" and later["queued"] == 0
