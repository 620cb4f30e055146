"""Telegram's side of the outbox: an inline keyboard per message, python-telegram-bot's errors
mapped to the sender's neutral outcomes (bot/channels/courier.py).

- 429 RetryAfter: throttled, every send pauses for retry_after.
- 403 Forbidden (the resident blocked the bot): stopped.
- 400 BadRequest ("chat not found" ...): failed, no retry.
- Timeouts, network errors, 5xx: retry later.
"""
from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.channels.courier import SENT, Delivery, Rendered, Result, short_error
from bot.channels.telegram.poster import MessagePoster
from bot.pacing import as_seconds
from bot.channels.telegram.inbound import fit, keyboard, shown_text
from bot.replies import Button, Reply

log = logging.getLogger(__name__)

from bot.channels.telegram import PLATFORM
CHAT_INTERVAL = 1.05     # about 1 message per second per chat (with a margin)
GROUP_INTERVAL = 3.1     # ... and 20 per minute in a group


class TelegramCourier:
    platform = PLATFORM

    def __init__(self, poster: MessagePoster, paid: bool = False):
        self.poster = poster
        self.paid = paid   # allow_paid_broadcast: up to 1000 messages a second, paid in Stars

    def chat_interval(self, chat: str) -> float:
        return GROUP_INTERVAL if chat.startswith("-") else CHAT_INTERVAL   # group chats have negative ids

    def render(self, text: str, buttons: list[list[Button]], language: str) -> Rendered:
        """The same rendering as a reply's (inbound.py), the keyboard as the JSON Telegram takes."""
        reply = Reply(text, buttons)
        markup = keyboard(reply)
        return Rendered((fit(shown_text(reply)), markup.to_json() if markup is not None else None))

    async def send(self, chat: str, payload) -> Delivery:
        text, reply_markup = payload
        if not chat.lstrip("-").isdigit():
            return Delivery(Result.FAILED, "not a Telegram chat id")
        try:
            await self.poster.send_message(int(chat), text, reply_markup, self.paid)
            return SENT
        except RetryAfter as exc:
            return Delivery(Result.THROTTLED, "429 retry_after", as_seconds(exc.retry_after))
        except Forbidden as exc:
            return Delivery(Result.STOPPED, short_error(exc))
        except BadRequest as exc:
            return Delivery(Result.FAILED, short_error(exc))
        except (TimedOut, NetworkError, TelegramError) as exc:   # network trouble and 5xx
            return Delivery(Result.RETRY, short_error(exc))

    async def start(self) -> None:
        await self.poster.initialize()

    async def stop(self) -> None:
        await self.poster.shutdown()
