"""Run the real python-telegram-bot Application against the fake Bot API server."""
from __future__ import annotations

from contextlib import asynccontextmanager

from telegram import Update

from bot.adapters.telegram import build_application
from bot.assistant import Assistant
from bot.config import Settings
from tests.fakebotapi import FakeBotAPI


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
