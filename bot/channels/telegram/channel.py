"""The Telegram channel in `hocvuso serve`: connect, long-poll or take the webhook, and give the
leader a courier for the outbox."""
from __future__ import annotations

import asyncio
import hmac
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from bot.assistant import Assistant
from bot.channels.telegram import PLATFORM
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.inbound import build_application, replay_leftovers
from bot.channels.telegram.poster import MessagePoster
from bot.channels.telegram.request import AiohttpRequest
from bot.config import Settings
from bot.delivery import window_for
from bot.i18n import translator
from bot.pacing import SendGate
from bot.storage import StorageCheck

log = logging.getLogger(__name__)
RETRY_SECONDS = (2, 5, 15, 30, 60)
MAX_UPDATE_ID = 2**63 - 1         # update ids are stored as 64-bit integers


async def bot_commands(app: Application) -> None:
    _ = translator("vi")
    await app.bot.set_my_commands([
        ("start", _("Start")), ("menu", _("Choose a lesson")), ("hoctiep", _("Continue learning")),
        ("tiendo", _("My progress")), ("trogiup", _("Help")), ("ngonngu", _("Language")), ("sukien", _("Events")),
        ("caidat", _("Settings")), ("giadinh", _("Digital family")), ("xoadulieu", _("Delete my data")),
    ])


class TelegramChannel:
    platform = PLATFORM

    def __init__(self, settings: Settings, assistant: Assistant, storage: StorageCheck):
        self.settings, self.assistant, self.storage = settings, assistant, storage
        # Paid broadcasts have an allowance of their own: the outbox then keeps a clock of its own.
        self.rate = settings.effective_send_rate
        self.gate = SendGate(settings.send_rate)
        self.app = build_application(settings, assistant, polling=not settings.webhook_mode, gate=self.gate,
                                     storage=storage)
        self.state = "connecting"
        self.ready = asyncio.Event()
        self.router = self._webhook() if settings.webhook_mode else None

    def _set(self, state: str) -> None:
        self.state = state
        if state == "ready":
            self.ready.set()

    async def start(self) -> None:
        """Connect to the Bot API, retrying while the network is down; never crash the web chat."""
        app, settings = self.app, self.settings
        attempt = 0
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                log.error("Telegram is off: TELEGRAM_BOT_TOKEN was rejected by %s", settings.telegram_api_url)
                self._set("off")
                return
            except NetworkError as exc:
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                log.warning("Telegram not reachable (%s); retrying in %ss", type(exc).__name__, delay)
                attempt += 1
                await asyncio.sleep(delay)
        await app.start()
        await replay_leftovers(app, self.assistant)
        try:
            await bot_commands(app)
        except NetworkError as exc:
            log.warning("could not set the command list: %s", type(exc).__name__)
        if settings.webhook_mode:
            await app.bot.set_webhook(settings.telegram_webhook_url, secret_token=settings.telegram_webhook_secret,
                                      allowed_updates=Update.ALL_TYPES)
            log.info("Telegram: webhook mode")
        else:
            await app.bot.delete_webhook()
            await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=25)
            log.info("Telegram: long polling as @%s", app.bot.username)
        self.assistant.bot_username = app.bot.username   # share links: t.me/<bot>?start=...
        self._set("ready")

    async def stop(self) -> None:
        app = self.app
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    def courier(self) -> TelegramCourier:
        s = self.settings
        # The outbox posts through its own aiohttp connection pool (poster.py): a broadcast is
        # thousands of requests, and the default backend costs 20 times more CPU each.
        poster = MessagePoster(s.telegram_bot_token, s.telegram_api_url,
                               AiohttpRequest(connection_pool_size=window_for(self.rate) + 8))
        return TelegramCourier(poster, paid=s.paid_broadcast)

    def outbox_gate(self) -> SendGate | None:
        """Replies share the gate and go first; paid broadcasts have an allowance of their own."""
        return None if self.settings.paid_broadcast else self.gate

    def _webhook(self) -> APIRouter:
        router = APIRouter()
        secret = (self.settings.telegram_webhook_secret or "").encode()
        path = urlsplit(self.settings.telegram_webhook_url).path or "/telegram/webhook"
        app, storage = self.app, self.storage

        @router.post(path, include_in_schema=False)
        async def telegram_webhook(request: Request) -> JSONResponse:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
            if not hmac.compare_digest(given, secret):
                raise HTTPException(403, detail="wrong secret token")
            if not self.ready.is_set():
                raise HTTPException(503, detail="bot is starting")  # Telegram will retry
            try:
                body = await request.json()
                update_id = body["update_id"]
                if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
                    raise ValueError("update_id out of range")
                update = Update.de_json(body, app.bot)
            except Exception:
                raise HTTPException(400, detail="body is not a Telegram update")
            try:
                # Written down before the 200: Telegram never sends an acknowledged update again.
                await app.update_queue.store(update, body)   # as Telegram sent it
            except Exception as exc:
                storage.note_failure(exc)
                log.error("could not store a webhook update (%s); Telegram will send it again", type(exc).__name__)
                raise HTTPException(503, detail="cannot store the update now")
            await app.update_queue.put_stored(update)
            return JSONResponse({"ok": True})

        return router
