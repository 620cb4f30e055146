"""Run the real python-telegram-bot Application against the fake Bot API server."""
from __future__ import annotations

import re
from collections import Counter
from contextlib import asynccontextmanager
from typing import Callable

from telegram import Update
from telegram.ext import TypeHandler

from bot.channels.telegram.inbound import build_application
from bot.assistant import Assistant
from bot.config import Settings
from bot.i18n import translator
from tests.fakebotapi import BotMessage, FakeBotAPI


@asynccontextmanager
async def running_bot(fake: FakeBotAPI, assistant: Assistant):
    """Long-polling bot, as `hocvuso serve` runs it, until the block ends."""
    settings = Settings(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url)
    app = build_application(settings, assistant)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=1, poll_interval=0)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


# ---- helpers for the Telegram journey, webhook and process tests ------------------------
VIETNAMESE_LETTERS = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]",
                                re.IGNORECASE)
ENGLISH_APOLOGY = "something went wrong"
# What the bot says when handling an update failed, in whatever language the catalog has.
APOLOGY = translator("vi")("Sorry, something went wrong on my side. Please try again in a moment.")


def looks_vietnamese(text: str) -> bool:
    return bool(VIETNAMESE_LETTERS.search(text))


def track_processed(app) -> Counter:
    """Count, per update_id, how often the Application has finished handling an update.

    The counting handler sits in a later handler group, so PTB runs it after the bot's own
    handler (and its error handler) is done with the update, replies included."""
    seen: Counter = Counter()

    async def record(update: Update, context) -> None:
        seen[update.update_id] += 1

    app.add_handler(TypeHandler(Update, record), group=99)
    return seen


async def wait_processed(fake: FakeBotAPI, seen: Counter, *update_ids: int, times: int = 1,
                         timeout: float = 10.0) -> None:
    await fake.wait_for(lambda: all(seen[u] >= times for u in update_ids), timeout)


async def act(fake: FakeBotAPI, chat_id: int, action: Callable[[], object], replies: int = 1,
              timeout: float = 10.0):
    """Do something as the resident and wait for `replies` more sent/edited messages."""
    target = fake.reply_count(chat_id) + replies
    result = action()
    await fake.wait_for(lambda: fake.reply_count(chat_id) >= target, timeout)
    return result


def button_data(message: BotMessage, *, label: str | None = None, prefix: str | None = None) -> str:
    """The callback data of the first button with exactly this label, or data with this prefix."""
    for row in message.buttons:
        for text, data in row:
            if (label is not None and text == label) or (prefix is not None and data.startswith(prefix)):
                return data
    raise LookupError(f"no button label={label!r} prefix={prefix!r} in {message.buttons}")


def all_data(message: BotMessage) -> list[str]:
    return [data for row in message.buttons for _, data in row]


def callback_update(fake: FakeBotAPI, chat_id: int, data: str, message: BotMessage,
                    first_name: str = "Lan") -> dict:
    """The body of a callback-query update (without update_id), as press() builds it."""
    return {"callback_query": {"id": f"dup{chat_id}{data}", "from": fake.user(chat_id, first_name),
                               "chat_instance": f"ci{chat_id}", "data": data,
                               "message": message.as_telegram()}}


def deliver_twice(fake: FakeBotAPI, body: dict) -> int:
    """Queue one update twice with the same update_id, atomically, so both copies reach the
    bot (Telegram redelivers an update when it is not sure the bot got it)."""
    with fake._lock:
        update_id = fake._next_update
        fake._next_update += 1
        update = {"update_id": update_id, **body}
        fake._pending += [update, dict(update)]
    fake._wake()
    return update_id
