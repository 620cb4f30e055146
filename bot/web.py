"""The one ASGI app: web chat, admin API, /healthz and (in webhook mode) the Telegram webhook.

Its lifespan starts and stops the Telegram bot and the scheduler, so `hocvuso serve` is
one process.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

import admin_api
from admin_api import errors
from admin_api.deps import hash_token
from bot.adapters import web as webchat
from bot.adapters.telegram import build_application
from bot.assistant import Assistant
from bot.config import Settings
from bot.i18n import translator
from bot.aiohttp_request import AiohttpRequest
from bot.message_poster import MessagePoster
from bot.delivery import Sender, window_for
from bot.leader import LEADER_RETRY_SECONDS, Leadership
from bot.scheduler import build_scheduler

log = logging.getLogger(__name__)
TELEGRAM_RETRY_SECONDS = (2, 5, 15, 30, 60)


async def bot_commands(app: Application) -> None:
    _ = translator("vi")
    await app.bot.set_my_commands([
        ("start", _("Start")), ("menu", _("Choose a lesson")), ("hoctiep", _("Continue learning")),
        ("tiendo", _("My progress")), ("trogiup", _("Help")), ("ngonngu", _("Language")), ("sukien", _("Events")), ("caidat", _("Settings")), ("giadinh", _("Digital family")),
        ("xoadulieu", _("Delete my data")),
    ])


class TelegramStatus:
    """What /healthz reports: off, connecting or ready."""

    def __init__(self, enabled: bool):
        self.state = "connecting" if enabled else "off"
        self.ready = asyncio.Event()

    def set(self, state: str) -> None:
        self.state = state
        if state == "ready":
            self.ready.set()


async def run_telegram(app: Application, settings: Settings, status: TelegramStatus) -> None:
    """Connect to the Bot API, retrying while the network is down; never crash the web chat."""
    attempt = 0
    while True:
        try:
            await app.initialize()
            break
        except InvalidToken:
            log.error("Telegram is off: TELEGRAM_BOT_TOKEN was rejected by %s", settings.telegram_api_url)
            status.set("off")
            return
        except NetworkError as exc:
            delay = TELEGRAM_RETRY_SECONDS[min(attempt, len(TELEGRAM_RETRY_SECONDS) - 1)]
            log.warning("Telegram not reachable (%s); retrying in %ss", type(exc).__name__, delay)
            attempt += 1
            await asyncio.sleep(delay)
    await app.start()
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
    assistant = app.bot_data.get("assistant")
    if assistant is not None:
        assistant.bot_username = app.bot.username   # share links: t.me/<bot>?start=...
    status.set("ready")


async def stop_telegram(app: Application) -> None:
    if app.updater and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


class LeaderRole:
    """The scheduler and the outbox sender run in one process only: the leader (bot/leader.py)."""

    def __init__(self, settings: Settings, assistant: Assistant, telegram_app: Application | None,
                 telegram: TelegramStatus):
        self.settings, self.assistant, self.telegram_app, self.telegram = settings, assistant, telegram_app, telegram
        self.leadership = Leadership(assistant.sessions.kw["bind"])
        self.scheduler = None
        self.stop_sending = asyncio.Event()
        self.sender_task: asyncio.Task | None = None
        self.poster: MessagePoster | None = None
        self.is_leader = False

    async def run(self) -> None:
        while not await asyncio.to_thread(self.leadership.try_acquire):
            await asyncio.sleep(LEADER_RETRY_SECONDS)
        self.is_leader = True
        log.info("this process runs the scheduler and the sender")
        s = self.settings
        self.scheduler = build_scheduler(self.assistant.sessions, s.timezone, self.assistant.knowledge, s.quiet,
                                         s.reminder_days)
        self.scheduler.start()
        if self.telegram_app is not None:
            await self.telegram.ready.wait()
            rate = s.effective_send_rate
            # The sender posts through its own aiohttp connection pool (bot/message_poster.py):
            # a broadcast is thousands of requests, and the default backend costs 20 times more
            # CPU each.
            self.poster = MessagePoster(s.telegram_bot_token, s.telegram_api_url,
                                        AiohttpRequest(connection_pool_size=window_for(rate) + 8))
            await self.poster.initialize()
            sender = Sender(self.assistant.sessions, self.poster, self.assistant.knowledge, rate,
                            paid=s.paid_broadcast)
            self.sender_task = asyncio.create_task(sender.run(self.stop_sending))
        while await asyncio.to_thread(self.leadership.still_held):
            await asyncio.sleep(LEADER_RETRY_SECONDS)
        log.error("leadership lost: stopping the scheduler and the sender")
        await self.stop()

    async def stop(self) -> None:
        self.stop_sending.set()
        if self.sender_task is not None:
            await asyncio.gather(self.sender_task, return_exceptions=True)
            self.sender_task = None
        if self.poster is not None:
            await self.poster.shutdown()
            self.poster = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self.leadership.release)
        self.is_leader = False


def create_app(settings: Settings, assistant: Assistant) -> FastAPI:
    telegram_app = (build_application(settings, assistant, polling=not settings.webhook_mode)
                    if settings.telegram_enabled else None)
    telegram = TelegramStatus(telegram_app is not None)

    leader = LeaderRole(settings, assistant, telegram_app, telegram)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = None
        if telegram_app is not None:
            task = asyncio.create_task(run_telegram(telegram_app, settings, telegram))
        else:
            log.warning("Telegram is off (no TELEGRAM_BOT_TOKEN); serving the web chat only")
        leading = asyncio.create_task(leader.run())
        try:
            yield
        finally:
            await leader.stop()
            leading.cancel()
            await asyncio.gather(leading, return_exceptions=True)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await stop_telegram(telegram_app)

    app = FastAPI(title=translator("vi")("Digital skills assistant"), version="0.1.0", lifespan=lifespan)
    app.state.assistant = assistant
    app.state.settings = settings
    errors.install(app)
    app.state.sessions = assistant.sessions
    app.state.admin_token_hash = hash_token(settings.admin_token) if settings.admin_token else None
    app.state.telegram = telegram_app
    app.state.telegram_status = telegram
    app.include_router(webchat.router)
    app.include_router(admin_api.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        with assistant.sessions() as session:
            session.execute(text("SELECT 1"))
        return {"ok": True, "telegram": telegram.state, "leader": leader.is_leader}

    if telegram_app is not None and settings.webhook_mode:
        secret = (settings.telegram_webhook_secret or "").encode()
        path = urlsplit(settings.telegram_webhook_url).path or "/telegram/webhook"

        @app.post(path, include_in_schema=False)
        async def telegram_webhook(request: Request) -> JSONResponse:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
            if not hmac.compare_digest(given, secret):
                raise HTTPException(403, detail="wrong secret token")
            if not telegram.ready.is_set():
                raise HTTPException(503, detail="bot is starting")  # Telegram will retry
            try:
                update = Update.de_json(await request.json(), telegram_app.bot)
            except Exception:
                raise HTTPException(400, detail="body is not a Telegram update")
            await telegram_app.update_queue.put(update)
            return JSONResponse({"ok": True})

    return app
