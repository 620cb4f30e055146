"""The Zalo channel in `hocvuso serve`: long polling by default, a webhook when ZALO_WEBHOOK_URL
is set (the two exclude each other on Zalo's side), and a courier for the outbox."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from bot.assistant import Assistant
from bot.channels.zalo import PLATFORM
from bot.channels.zalo.client import ZaloClient, ZaloError, ZaloNetworkError
from bot.channels.zalo.courier import ZaloCourier
from bot.channels.zalo.inbound import ZaloInbound
from bot.config import Settings
from bot.delivery import window_for
from bot.pacing import SendGate
from bot.storage import StorageCheck

log = logging.getLogger(__name__)
RETRY_SECONDS = (2, 5, 15, 30, 60)
POLL_TIMEOUT = 25            # seconds a long poll waits for an event
MAX_WEBHOOK_BODY = 64 * 1024


class ZaloChannel:
    platform = PLATFORM

    def __init__(self, settings: Settings, assistant: Assistant, storage: StorageCheck):
        self.settings, self.assistant, self.storage = settings, assistant, storage
        self.rate = settings.zalo_send_rate
        self.gate = SendGate(self.rate)
        self.client = ZaloClient(settings.zalo_bot_token, settings.zalo_api_url, pool_size=64)
        self.inbound = ZaloInbound(assistant, self.client, self.gate, storage)
        self.state = "connecting"
        self.ready = asyncio.Event()
        self.router = self._webhook() if settings.zalo_webhook_mode else None
        self._polling: asyncio.Task | None = None

    def _set(self, state: str) -> None:
        self.state = state
        if state == "ready":
            self.ready.set()

    async def start(self) -> None:
        """Connect, retrying while the network is down; a rejected token switches Zalo off."""
        await self.client.initialize()
        attempt = 0
        while True:
            try:
                await self.client.get_me()
                break
            except ZaloError as exc:
                if exc.unauthorized or exc.status == 404:
                    log.error("Zalo is off: ZALO_BOT_TOKEN was rejected by %s", self.settings.zalo_api_url)
                    self._set("off")
                    return
                problem = f"{exc.status}/{exc.code}"
            except ZaloNetworkError as exc:
                problem = str(exc)
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("Zalo not reachable (%s); retrying in %ss", problem, delay)
            attempt += 1
            await asyncio.sleep(delay)
        await self.inbound.replay_leftovers()
        s = self.settings
        if s.zalo_webhook_mode:
            await self.client.set_webhook(s.zalo_webhook_url, s.zalo_webhook_secret)
            log.info("Zalo: webhook mode")
        else:
            try:
                await self.client.delete_webhook()   # a webhook left set would keep the poll empty
            except (ZaloError, ZaloNetworkError) as exc:
                log.warning("Zalo: could not delete a webhook (%s)", type(exc).__name__)
            self._polling = asyncio.create_task(self._poll())
            log.info("Zalo: long polling")
        self._set("ready")

    async def _poll(self) -> None:
        """getUpdates, for ever. An event returned is acknowledged: it is stored at once."""
        failures = 0
        while True:
            try:
                events = await self.client.get_updates(POLL_TIMEOUT)
                failures = 0
            except (ZaloError, ZaloNetworkError) as exc:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("Zalo poll failed (%s); again in %ss", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            for event in events:
                await self._store_polled(event)

    async def _store_polled(self, event: dict) -> None:
        attempt = 0
        while True:
            try:
                uid = await self.inbound.store(event)
                break
            except Exception as exc:  # noqa: BLE001 - the database is down or full: keep trying
                if self.storage is not None:
                    self.storage.note_failure(exc)
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                log.error("could not store a Zalo event (%s); retrying in %ss", type(exc).__name__, delay)
                attempt += 1
                await asyncio.sleep(delay)
        self.inbound.dispatch(event, uid)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        await self.inbound.drain()
        await self.client.shutdown()

    def courier(self) -> ZaloCourier:
        # A pool of its own: the outbox must not wait behind a long poll.
        return ZaloCourier(ZaloClient(self.settings.zalo_bot_token, self.settings.zalo_api_url,
                                      pool_size=window_for(self.rate) + 8))

    def outbox_gate(self) -> SendGate:
        return self.gate   # replies and the outbox share the channel's rate; replies go first

    def _webhook(self) -> APIRouter:
        router = APIRouter()
        secret = (self.settings.zalo_webhook_secret or "").encode()
        path = urlsplit(self.settings.zalo_webhook_url).path or "/zalo/webhook"

        @router.post(path, include_in_schema=False)
        async def zalo_webhook(request: Request) -> JSONResponse:
            # The secret first, in constant time, before the body is even read.
            given = request.headers.get("X-Bot-Api-Secret-Token", "").encode()
            if not hmac.compare_digest(given, secret):
                raise HTTPException(403, detail="wrong secret token")
            if not self.ready.is_set():
                raise HTTPException(503, detail="bot is starting")
            raw = bytearray()
            async for chunk in request.stream():   # read no more than an event can be
                raw += chunk
                if len(raw) > MAX_WEBHOOK_BODY:
                    raise HTTPException(413, detail="body too large for a Zalo event")
            try:
                body = json.loads(raw)
                event = body.get("result", body) if isinstance(body, dict) else None
                if not isinstance(event, dict) or not isinstance(event.get("event_name"), str):
                    raise ValueError("no event")
            except ValueError:
                raise HTTPException(400, detail="body is not a Zalo event")
            try:
                # Written down before the 200: what Zalo hears as received is never lost.
                uid = await self.inbound.store(event)
            except Exception as exc:
                self.storage.note_failure(exc)
                log.error("could not store a Zalo webhook event (%s)", type(exc).__name__)
                raise HTTPException(503, detail="cannot store the event now")
            self.inbound.dispatch(event, uid)
            return JSONResponse({"ok": True})

        return router
