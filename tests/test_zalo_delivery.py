"""The outbox sender with the Zalo courier, against the fake Zalo Bot API: the rate, 429 with
Retry-After, a blocked resident, 5xx and ok:false answers, the 2,000-character limit, and a
kill -9 mid-broadcast in a `hocvuso serve` that runs Telegram and Zalo side by side."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

import bot.delivery as delivery
from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.courier import ZaloCourier
from bot.channels.zalo.render import MAX_TEXT
from bot.delivery import Sender, window_for
from bot.models import OutboxMessage, Resident
from tests.fakezalo import FakeZalo
from tests.test_delivery import add_residents, drain, queue_broadcast, statuses
from tests.test_delivery_processes import wait_until
from tests.test_serve_process import Serve, processes  # noqa: F401 - the fixture

FIRST = 9100


def add_zalo_residents(sessions, n: int, first: int = FIRST) -> list[str]:
    now = datetime.now(timezone.utc)
    chats = [f"z{first + i}" for i in range(n)]
    with sessions() as session:
        session.add_all([Resident(platform="zalo", external_id=chat, first_name=None, consent_at=now,
                                  consent_version="1") for chat in chats])
        session.commit()
    return chats


@pytest.fixture
def fake_zalo():
    with FakeZalo() as server:
        yield server


def zalo_sender(sessions, knowledge, fake: FakeZalo, rate: float) -> Sender:
    return Sender(sessions, ZaloCourier(ZaloClient(fake.token, fake.url, timeout=5)), knowledge, rate)


async def run(sender: Sender, sessions) -> float:
    await sender.courier.start()
    try:
        return await drain(sender, sessions)
    finally:
        await sender.courier.stop()


async def test_a_broadcast_reaches_every_zalo_resident_once_within_the_rate(fake_zalo, sessions, knowledge):
    chats = add_zalo_residents(sessions, 30)
    fake_zalo.global_rate, fake_zalo.per_chat_interval = 25, 1.0
    queue_broadcast(sessions, courses=["vneid"])
    took = await run(zalo_sender(sessions, knowledge, fake_zalo, rate=15), sessions)
    assert statuses(sessions) == Counter(sent=30)
    assert sorted(m.chat_id for m in fake_zalo.sent) == sorted(chats) and not fake_zalo.duplicates()
    assert fake_zalo.rate_limited == 0 and took >= 29 / 15 * 0.95
    # The course button is a typed choice, remembered for every resident who got it.
    text = fake_zalo.sent[0].text
    assert "1 – " in text and knowledge.pack("vi").courses["vneid"].button in text
    with sessions() as session:
        offered = session.scalars(select(Resident.offered_choices)).all()
    assert offered == [{"1": "o:vneid"}] * 30


async def test_429_pauses_every_send_for_retry_after_and_is_not_an_attempt(fake_zalo, sessions, knowledge):
    add_zalo_residents(sessions, 10)
    fake_zalo.global_rate, fake_zalo.retry_after_seconds = 4, 1
    queue_broadcast(sessions)
    await run(zalo_sender(sessions, knowledge, fake_zalo, rate=40), sessions)
    assert fake_zalo.rate_limited > 0
    assert statuses(sessions) == Counter(sent=10) and not fake_zalo.duplicates()
    with sessions() as session:
        assert session.scalar(select(func.max(OutboxMessage.attempts))) == 1


async def test_blocked_resident_is_stopped_and_left_out_later(fake_zalo, sessions, knowledge):
    chats = add_zalo_residents(sessions, 4)
    fake_zalo.blocked_chats = {chats[0]}
    queue_broadcast(sessions)
    await run(zalo_sender(sessions, knowledge, fake_zalo, rate=40), sessions)
    assert statuses(sessions) == Counter(sent=3, blocked=1)
    with sessions() as session:
        assert session.scalar(select(Resident.active).where(Resident.external_id == chats[0])) is False


async def test_server_errors_are_retried_and_refusals_fail(fake_zalo, sessions, knowledge, monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.1, 0.1, 0.1, 0.1))
    add_zalo_residents(sessions, 4)
    fake_zalo.fail_sends_with(status=502, count=2)                        # two 5xx: tried again
    queue_broadcast(sessions)
    await run(zalo_sender(sessions, knowledge, fake_zalo, rate=40), sessions)
    assert statuses(sessions) == Counter(sent=4) and not fake_zalo.duplicates()

    fake_zalo.ok_false_next("sendMessage", 400, "Invalid chat_id")       # ok:false with HTTP 200: refused
    queue_broadcast(sessions, text="tin 2")
    await run(zalo_sender(sessions, knowledge, fake_zalo, rate=40), sessions)
    assert statuses(sessions) == Counter(sent=7, failed=1)
    with sessions() as session:
        assert "400" in session.scalar(select(OutboxMessage.last_error).where(OutboxMessage.status == "failed"))


async def test_a_text_over_2000_characters_goes_in_parts_cut_at_paragraphs(fake_zalo, sessions, knowledge):
    [chat] = add_zalo_residents(sessions, 1)
    paragraphs = [f"Đoạn {i}: " + "thông tin của xã " * 20 for i in range(12)]   # about 4,000 characters
    queue_broadcast(sessions, text="\n\n".join(paragraphs), courses=["vneid"])
    await run(zalo_sender(sessions, knowledge, fake_zalo, rate=40), sessions)
    parts = fake_zalo.texts(chat)
    assert len(parts) >= 2 and all(len(p) <= MAX_TEXT for p in parts)
    assert "\n\n".join(parts).count("Đoạn ") == 12 and all(p.startswith("Đoạn ") for p in parts)
    assert "1 – " in parts[-1] and all("1 – " not in p for p in parts[:-1])   # the choices come last


def test_kill_9_mid_broadcast_loses_nothing_on_either_channel(tmp_path, processes, database_url, sessions,  # noqa: F811
                                                             fake_api, fake_zalo):
    telegram_chats = add_residents(sessions, 30)
    zalo_chats = add_zalo_residents(sessions, 30)
    fake_api.global_rate, fake_api.per_chat_interval = 30, 1.0
    fake_zalo.global_rate, fake_zalo.per_chat_interval = 30, 1.0
    env = {"HOCVUSO_DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake_api.token,
           "TELEGRAM_API_URL": fake_api.url, "HOCVUSO_SEND_RATE": "15", "ZALO_BOT_TOKEN": fake_zalo.token,
           "ZALO_API_URL": fake_zalo.url, "ZALO_SEND_RATE": "15"}
    first = Serve(tmp_path, "first", **env)
    processes.append(first)
    assert first.wait_healthz("ready")["channels"] == {"telegram": "ready", "web": "ready", "zalo": "ready"}
    queue_broadcast(sessions)
    wait_until(lambda: len(fake_zalo.sent) >= 8 and len(fake_api.sent) >= 8, 30, "both channels sending")
    first.kill()   # SIGKILL: in-flight rows stay "sending"
    assert statuses(sessions)["queued"] > 0   # the kill did cut the broadcast short
    second = Serve(tmp_path, "second", **env)
    processes.append(second)
    second.wait_healthz("ready")
    wait_until(lambda: statuses(sessions) == {"sent": 60}, 60, "every message sent")
    assert {m.chat_id for m in fake_zalo.sent} == set(zalo_chats)                    # nothing lost
    assert {r.chat_id for r in fake_api.sent} == set(telegram_chats)
    for duplicates in (fake_zalo.duplicates(), fake_api.duplicates()):             # the in-flight window
        assert sum(n - 1 for n in duplicates.values()) <= window_for(15)
    second.terminate()
