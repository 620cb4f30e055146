"""The one ASGI app: web chat, admin API, /healthz and the channels' webhooks.

Its lifespan starts and stops every channel switched on (bot/channels/) and the leader's
scheduler and senders, so `hocvuso serve` is one process.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import admin_api
from bot.media import routes as media_routes
from admin_api import errors
from admin_api.deps import hash_token
from bot.api_docs import install_docs
from bot.assistant import Assistant
from bot.channels import Channel, packages
from bot.config import Settings
from bot.i18n import translator
from bot.leader import LeaderRole
from bot.storage import StorageCheck
from console import install_console

log = logging.getLogger(__name__)


class Health(BaseModel):
    ok: bool
    telegram: str                 # off | connecting | ready
    channels: dict[str, str] = {}  # every messenger channel: off | connecting | ready
    leader: bool                  # this process runs the scheduler and the senders
    problems: list[str] = []      # why ok is false, for the operator


def build_channels(settings: Settings, assistant: Assistant, storage: StorageCheck) -> list[Channel]:
    """The channels switched on by the settings (a token set), in name order."""
    channels = []
    for package in packages():
        channel = package.build(settings, assistant, storage)
        if channel is not None:
            channels.append(channel)
        elif package.CAN_PUSH:
            log.warning("%s is off (its bot token is not set)", package.PLATFORM.capitalize())
    return channels


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
    storage = StorageCheck(assistant.sessions, settings.database_url)
    channels = build_channels(settings, assistant, storage)
    leader = LeaderRole(settings, assistant, channels)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        starting = [asyncio.create_task(channel.start()) for channel in channels]
        leading = asyncio.create_task(leader.run())
        try:
            yield
        finally:
            leading.cancel()
            await asyncio.gather(leading, return_exceptions=True)
            await leader.stop()
            for task in starting:
                task.cancel()
            await asyncio.gather(*starting, return_exceptions=True)
            for channel in channels:
                try:
                    await channel.stop()
                except Exception:  # noqa: BLE001 - one channel must not keep the others from stopping
                    log.exception("could not stop the %s channel cleanly", channel.platform)

    app = FastAPI(title=translator("vi")("Digital skills assistant"), version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # install_docs: /docs and /redoc with no CDN
    install_docs(app)
    app.state.assistant = assistant
    assistant.public_url = settings.public_url   # web share links: /chat?start=...
    app.state.settings = settings
    app.state.storage = storage
    app.state.leader = leader
    errors.install(app)
    app.add_middleware(RefuseWhenStorageLost, storage=storage)
    # Pages, scripts and reports travel compressed: residents and officials are on weak signal.
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.state.sessions = assistant.sessions
    app.state.admin_token_hash = hash_token(settings.admin_token) if settings.admin_token else None
    app.state.channels = {channel.platform: channel for channel in channels}
    for channel in channels:
        if channel.router is not None:
            app.include_router(channel.router)
    app.include_router(admin_api.router)
    app.include_router(media_routes.router)
    install_console(app)

    @app.get("/healthz", tags=["health"], response_model=Health, responses={503: {"model": Health}})
    def healthz(response: Response) -> Health:
        """Fails (503) when the database does not take writes, its file is gone or its disk is
        full, or when no process has run the scheduler and the sender for too long."""
        problems = storage.problems()
        if (lead := leader.problem()) is not None:
            problems.append(lead)
        if problems:
            response.status_code = 503
        states = {channel.platform: channel.state for channel in channels}
        return Health(ok=not problems, telegram=states.get("telegram", "off"), channels=states,
                      leader=leader.is_leader, problems=problems)

    return app
