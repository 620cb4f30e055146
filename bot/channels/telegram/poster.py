"""sendMessage for the outbox sender, through python-telegram-bot's request layer.

A broadcast is thousands of identical calls. `Bot.send_message` turns every argument into a
RequestParameter, serialises the keyboard and parses Telegram's answer into a Message object,
which the sender never reads: at 1000 messages/s that was most of a core. The poster builds the
request from ready values and hands it to `BaseRequest.post`, python-telegram-bot's own call
path: same status-code handling, same exceptions (RetryAfter, Forbidden, BadRequest, TimedOut,
NetworkError), so the sender's error handling is the library's.
"""
from __future__ import annotations

from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.request import AiohttpRequest


class MessagePoster:
    def __init__(self, token: str, api_url: str, request: BaseRequest | None = None):
        # api_url is the server, as in HOCVUSO_TELEGRAM_API_URL (https://api.telegram.org).
        self.url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self.request = request or AiohttpRequest()

    async def initialize(self) -> None:
        await self.request.initialize()

    async def shutdown(self) -> None:
        await self.request.shutdown()

    async def __aenter__(self) -> MessagePoster:
        await self.initialize()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.shutdown()

    async def send_message(self, chat_id: int, text: str, reply_markup: str | None = None,
                           allow_paid_broadcast: bool = False) -> dict:
        """Send one text message; `reply_markup` is already JSON. Returns Telegram's result as a
        dict; raises python-telegram-bot's TelegramError subclasses."""
        parameters = [RequestParameter("chat_id", chat_id, []), RequestParameter("text", text, [])]
        if reply_markup is not None:
            parameters.append(RequestParameter("reply_markup", reply_markup, []))
        if allow_paid_broadcast:
            parameters.append(RequestParameter("allow_paid_broadcast", True, []))
        return await self.request.post(self.url, RequestData(parameters))
