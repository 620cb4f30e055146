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

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

import admin_api
from admin_api import errors
from admin_api.deps import hash_token
from bot.adapters import web as webchat
from bot.adapters.telegram import build_application, replay_leftovers
from bot.assistant import Assistant
from bot.config import Settings
from bot.i18n import translator
from bot.leader import LeaderRole
from bot.pacing import SendGate
from bot.storage import StorageCheck

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
    await replay_leftovers(app, app.bot_data["assistant"])
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


class Health(BaseModel):
    ok: bool
    telegram: str                 # off | connecting | ready
    leader: bool                  # this process runs the scheduler and the sender
    problems: list[str] = []      # why ok is false, for the operator


MAX_UPDATE_ID = 2**63 - 1         # update ids are stored as 64-bit integers


class RefuseWhenStorageLost:
    """A deleted or replaced SQLite file takes writes into a file nobody will open again: refuse
    every request that may write (POST, PUT, PATCH, DELETE) rather than acknowledge what will be
    lost. Pages and reads still answer; /healthz says why."""

    READS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app, storage: StorageCheck):
        self.app, self.storage = app, storage

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] not in self.READS and self.storage.file_problem():
            response = JSONResponse(errors.error_body(503, errors.STORAGE_UNAVAILABLE, None), 503)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings, assistant: Assistant) -> FastAPI:
    gate = SendGate(settings.send_rate)   # replies and the outbox share it (bot/pacing.py)
    storage = StorageCheck(assistant.sessions, settings.database_url)
    telegram_app = (build_application(settings, assistant, polling=not settings.webhook_mode, gate=gate,
                                      storage=storage)
                    if settings.telegram_enabled else None)
    telegram = TelegramStatus(telegram_app is not None)

    leader = LeaderRole(settings, assistant, telegram_app, telegram, gate)

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
            leading.cancel()
            await asyncio.gather(leading, return_exceptions=True)
            await leader.stop()
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await stop_telegram(telegram_app)

    app = FastAPI(title=translator("vi")("Digital skills assistant"), version="0.1.0", lifespan=lifespan)
    app.state.assistant = assistant
    app.state.settings = settings
    app.state.storage = storage
    app.state.leader = leader
    errors.install(app)
    app.add_middleware(RefuseWhenStorageLost, storage=storage)
    app.state.sessions = assistant.sessions
    app.state.admin_token_hash = hash_token(settings.admin_token) if settings.admin_token else None
    app.state.telegram = telegram_app
    app.state.telegram_status = telegram
    app.include_router(webchat.router)
    app.include_router(admin_api.router)

    @app.get("/healthz", tags=["health"], response_model=Health, responses={503: {"model": Health}})
    def healthz(response: Response) -> Health:
        """Fails (503) when the database does not take writes, its file is gone or its disk is
        full, or when no process has run the scheduler and the sender for too long."""
        problems = storage.problems()
        if (lead := leader.problem()) is not None:
            problems.append(lead)
        if problems:
            response.status_code = 503
        return Health(ok=not problems, telegram=telegram.state, leader=leader.is_leader, problems=problems)

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
                body = await request.json()
                update_id = body["update_id"]
                if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
                    raise ValueError("update_id out of range")
                update = Update.de_json(body, telegram_app.bot)
            except Exception:
                raise HTTPException(400, detail="body is not a Telegram update")
            try:
                # Written down before the 200: Telegram never sends an acknowledged update again.
                await telegram_app.update_queue.store(update)
            except Exception as exc:
                storage.note_failure(exc)
                log.error("could not store a webhook update (%s); Telegram will send it again", type(exc).__name__)
                raise HTTPException(503, detail="cannot store the update now")
            await telegram_app.update_queue.put_stored(update)
            return JSONResponse({"ok": True})

    return app
