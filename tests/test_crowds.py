"""Many residents at once, through the real python-telegram-bot client against a fake Bot API
that enforces Telegram's limits: every reply arrives, and one noisy chat cannot hold up the others."""
from __future__ import annotations

import logging
import time

import pytest

from tests.telegram_helpers import APOLOGY, running_bot

# The crowd is about Telegram's limits, not the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_a_crowd_of_400_gets_every_reply(fake_api, assistant, caplog):
    """A poster at the 10/10 event: 400 residents send /start within a second."""
    fake_api.global_rate = 30   # Telegram: about 30 messages a second, then 429
    chats = [30_000 + i for i in range(400)]
    async with running_bot(fake_api, assistant):
        for chat in chats:
            fake_api.send_text(chat, "/start")
        await fake_api.wait_for(lambda: all(len(fake_api.chat(c)) >= 2 for c in chats), timeout=90)
    for chat in chats:
        greeting, consent = (m.text for m in fake_api.chat(chat))
        assert "Xin chào" in greeting and consent.endswith("?")
        assert [d for _, d in fake_api.chat(chat)[1].buttons[0]] == ["c:y", "c:n"]
    assert len(fake_api.sent) == 800, len(fake_api.sent)   # each once: nothing dropped, nothing doubled
    # Paced below the limit, not rescued by retries. The fake counts a message when its thread
    # handles it, so on a busy 2-core CI machine a stall of that thread bunches arrivals into one
    # second: two CI runs saw 10 and 11 of the 800 answered 429 (and waited out). Retries alone,
    # with no pacing, would meet hundreds.
    assert fake_api.rate_limited <= 25, fake_api.rate_limited
    assert "error while handling an update" not in caplog.text


async def test_a_429_is_waited_out_not_dropped(fake_api, assistant, caplog):
    caplog.set_level(logging.WARNING)
    fake_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with running_bot(fake_api, assistant):
        started = time.monotonic()
        fake_api.send_text(41_001, "/start")
        await fake_api.wait_for(lambda: len(fake_api.chat(41_001)) >= 2, timeout=15)
    assert time.monotonic() - started >= 1.0          # it waited as Telegram asked
    greeting, consent = fake_api.chat(41_001)
    assert "Xin chào" in greeting.text and consent.buttons
    assert all(APOLOGY not in m.text for m in fake_api.chat(41_001))
    assert "error while handling an update" not in caplog.text


async def test_one_noisy_chat_does_not_hold_up_the_others(fake_api, assistant):
    noisy, others = 42_000, [42_001 + i for i in range(5)]
    async with running_bot(fake_api, assistant):
        for i in range(400):
            fake_api.send_text(noisy, f"vneid la gi {i}")
        sent_at = time.monotonic()
        for chat in others:
            fake_api.send_text(chat, "/start")
        await fake_api.wait_for(lambda: all(len(fake_api.chat(c)) >= 2 for c in others), timeout=30)
        waited = time.monotonic() - sent_at
        await fake_api.wait_for(lambda: fake_api.pending() == 0, timeout=30)
    assert waited < 5, f"the other residents waited {waited:.1f} s"
    texts = [m.text for m in fake_api.chat(noisy)]
    flood_notices = [t for t in texts if "nhiều tin cùng lúc" in t]
    assert len(flood_notices) == 1, texts[:20]   # the flood is answered once
    # At most CHAT_BACKLOG of its messages wait at any time; the rest are dropped, not queued.
    assert len(texts) < 100, len(texts)
