"""A small client for the Zalo Bot Platform API (https://bot.zapps.me/docs).

Calls are `POST <ZALO_API_URL>/bot<token>/<method>` with a JSON body; answers are
`{ok, result}` or `{ok: false, error_code, description}`. python-zalo-bot (PyPI) exists, but it is
a fork of python-telegram-bot 20 that keeps Telegram's whole object model and logs request
bodies (what residents typed) at DEBUG; the project needs six calls, so it has its own client on
aiohttp, which is already a dependency (README, "Zalo").

The token is part of every URL: nothing here logs a URL, a body or an answer's text.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

DEFAULT_RETRY_AFTER = 5.0   # seconds, when a 429 does not say how long to wait


class ZaloError(Exception):
    """The platform answered with an error: `status` is HTTP's, `code` the body's error_code."""

    def __init__(self, status: int, code: int | None, description: str, retry_after: float | None = None):
        super().__init__(f"{status}/{code}: {description[:120]}")
        self.status, self.code, self.description, self.retry_after = status, code, description, retry_after

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.code == 429

    @property
    def server_side(self) -> bool:
        return self.status >= 500 or (self.code or 0) >= 500

    @property
    def unauthorized(self) -> bool:
        return self.status == 401 or self.code == 401


class ZaloNetworkError(Exception):
    """No answer: the connection failed or timed out."""


class ZaloClient:
    def __init__(self, token: str, api_url: str, pool_size: int = 32, timeout: float = 15.0):
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._pool_size, self._timeout = pool_size, timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ZaloClient:
        await self.initialize()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.shutdown()

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size))

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(self, method: str, params: dict | None = None, timeout: float | None = None) -> Any:
        """The method's `result`; raises ZaloError for an error answer, ZaloNetworkError for none."""
        if self._session is None or self._session.closed:
            raise RuntimeError("ZaloClient is not initialized")
        limit = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout or self._timeout)
        try:
            async with self._session.post(self._base + method, json=params or {}, timeout=limit) as response:
                raw = await response.read()
                status, retry_header = response.status, response.headers.get("Retry-After")
        except asyncio.TimeoutError as exc:
            raise ZaloNetworkError("timed out") from exc
        except aiohttp.ClientError as exc:
            raise ZaloNetworkError(type(exc).__name__) from exc
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloError(status, None, "the answer is not JSON")
        if status == 200 and body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        retry_after = _retry_after(retry_header, body)
        raise ZaloError(status, code if isinstance(code, int) else None, str(body.get("description") or ""),
                        retry_after)

    async def get_me(self) -> dict:
        return await self.call("getMe")

    async def get_updates(self, timeout: int) -> list[dict]:
        """Events waiting, at most one by the documented API; [] when the poll timed out."""
        try:
            result = await self.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10)
        except ZaloError as exc:
            if exc.code == 408 or exc.status == 408:   # nothing arrived within the timeout
                return []
            raise
        if isinstance(result, list):
            return [event for event in result if isinstance(event, dict)]
        return [result] if isinstance(result, dict) and result else []

    async def send_message(self, chat_id: str, text: str) -> Any:
        return await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def download(self, url: str, limit: int) -> bytes:
        """A file a resident sent (an official's voice note after /ghiam), at most `limit` + 1 bytes:
        a larger one is cut there (and so refused as too large). b"" if it cannot be fetched."""
        if self._session is None or self._session.closed or not url.startswith(("https://", "http://")):
            return b""
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as response:
                if response.status != 200:
                    return b""
                return await response.content.read(limit + 1)
        except (asyncio.TimeoutError, aiohttp.ClientError):
            return b""

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")


def _retry_after(header: str | None, body: dict) -> float | None:
    for value in (header, (body.get("parameters") or {}).get("retry_after") if isinstance(body.get("parameters"),
                                                                                        dict) else None):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if 0 < seconds <= 3600:
            return seconds
    return None
