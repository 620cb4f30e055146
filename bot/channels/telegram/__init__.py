"""Telegram: python-telegram-bot in (long polling or a webhook), inline keyboards out, and a
courier for the outbox (courier.py)."""
from __future__ import annotations

PLATFORM = "telegram"
CAN_PUSH = True


def build(settings, assistant, storage):
    if not settings.telegram_enabled:
        return None
    from bot.channels.telegram.channel import TelegramChannel
    return TelegramChannel(settings, assistant, storage)
