"""Zalo's side of the outbox: numbered choices in the text, and Zalo's answers mapped to the
sender's neutral outcomes (bot/channels/courier.py).

Zalo documents neither its rate limits nor its error codes, so the mapping reads both the HTTP
status and the body's error_code:
- 429: throttled, for Retry-After (or the body's retry_after, else 5 s);
- 403: stopped (the resident blocked the bot);
- 401 (a token revoked or mistyped) and 5xx, timeouts, no connection: retry later, with backoff,
  so a broadcast survives an operator fixing the token;
- any other refusal (400: a text too long, a chat not found): failed.
"""
from __future__ import annotations

from bot.channels.courier import SENT, Delivery, Rendered, Result
from bot.channels.zalo import PLATFORM
from bot.channels.zalo.client import DEFAULT_RETRY_AFTER, ZaloClient, ZaloError, ZaloNetworkError
from bot.channels.zalo.render import render
from bot.i18n import translator
from bot.replies import Button, Reply

CHAT_INTERVAL = 1.0    # undocumented; one message a second to one person is what a person reads


class ZaloCourier:
    platform = PLATFORM

    def __init__(self, client: ZaloClient):
        self.client = client

    def chat_interval(self, chat: str) -> float:
        return CHAT_INTERVAL

    def render(self, text: str, buttons: list[list[Button]], language: str) -> Rendered:
        rendering = render(Reply(text, buttons), translator(language))
        return Rendered(rendering.parts, rendering.choices)

    async def send(self, chat: str, payload: list[str]) -> Delivery:
        # A message split in parts is sent part by part; a retry sends it whole again.
        for part in payload:
            try:
                await self.client.send_message(chat, part)
            except ZaloNetworkError as exc:
                return Delivery(Result.RETRY, f"network: {exc}")
            except ZaloError as exc:
                return outcome(exc)
        return SENT

    async def start(self) -> None:
        await self.client.initialize()

    async def stop(self) -> None:
        await self.client.shutdown()


def outcome(exc: ZaloError) -> Delivery:
    error = f"zalo {exc.status}/{exc.code}: {exc.description}"[:200]
    if exc.throttled:
        return Delivery(Result.THROTTLED, error, exc.retry_after or DEFAULT_RETRY_AFTER)
    if exc.status == 403 or exc.code == 403:
        return Delivery(Result.STOPPED, error)
    if exc.server_side or exc.unauthorized:
        return Delivery(Result.RETRY, error)
    return Delivery(Result.FAILED, error)
