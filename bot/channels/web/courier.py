"""Web chat residents in the outbox, by Web Push (push.py keeps the subscriptions and the key).

The payload is JSON for the page's service worker: {"title", "text", "buttons": [[{"label",
"data"}]], "url": "/chat"}, encrypted for the browser (aes128gcm, RFC 8291) and signed with
the server's VAPID key (RFC 8292) by pywebpush and py_vapid. What the push service answers maps
to the sender's neutral outcomes (bot/channels/courier.py):
- 200/201/202: sent;
- 404/410: that browser's subscription is gone and is deleted. With none left the row fails,
  and the resident is NOT made inactive (as STOPPED would): they can still chat on the page;
  reach.py simply stops counting them;
- 429: throttled, for Retry-After; 5xx, timeouts, no connection: retry later;
- any other 4xx (a bad payload, a VAPID key the subscription was not made with): failed.
Nothing logged or stored names the endpoint, the keys or the text.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.courier import SENT, Delivery, Rendered, Result
from bot.channels.web import PLATFORM
from bot.channels.web.push import vapid_key
from bot.i18n import N_, translator
from bot.models import Resident, WebPushSubscription
from bot.replies import Button

if TYPE_CHECKING:
    import aiohttp
    from py_vapid import Vapid

# pywebpush, py_vapid and aiohttp are imported where a courier starts and pushes, not here: they
# add 14 MB to a serving process, and the web chat imports this module (SEND_RATE) with web
# push off too.

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600           # a phone that is off for a day still gets the news when it is on again
MAX_PAYLOAD = 3000                # bytes of JSON: push services take 4096 encrypted, with room to spare
SEND_RATE = 50.0                  # pushes a second: each goes to the browser's own push service
CHAT_INTERVAL = 1.0               # one notification a second to one phone at most
TIMEOUT_SECONDS = 15              # a push, all of it
DEFAULT_RETRY_AFTER = 5.0
TITLE = N_("Digital skills assistant")


def fit(payload: dict, limit: int = MAX_PAYLOAD) -> bytes:
    """The payload as JSON within `limit` bytes: a long text is cut, at a space if one is near,
    and ends with "…" (the notification is a preview; the resident opens the chat)."""
    def encoded(text: str) -> bytes:
        return json.dumps({**payload, "text": text}, ensure_ascii=False, separators=(",", ":")).encode()
    text = payload["text"]
    if len(data := encoded(text)) <= limit:
        return data
    if len(encoded("…")) > limit:    # the buttons alone are too long: the text matters more
        return fit({**payload, "buttons": []}, limit)
    low, high = 0, len(text)         # the longest start of the text that fits
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(encoded(text[:mid] + "…")) <= limit else (low, mid - 1)
    cut = text[:low]
    space = cut.rfind(" ")
    if space > 0 and space > low - 40:   # a whole word, if that loses little
        cut = cut[:space]
    return encoded(cut.rstrip() + "…")


def retry_after(value: str | None) -> float:
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(1.0, float(value))
    except ValueError:
        pass
    try:
        return max(1.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


GONE = Delivery(Result.FAILED, "web push: subscription gone")   # 404/410: this browser's is deleted


class WebPushCourier:
    """The outbox's web chat residents, by Web Push. `chat` is the resident's external id (the
    page's session id), as the sender passes it."""

    platform = PLATFORM

    def __init__(self, sessions: sessionmaker[Session], subject: str):
        self.sessions = sessions
        self.subject = subject            # HOCVUSO_PUBLIC_URL: the contact the push services get
        self.vapid: Vapid | None = None
        self.http: aiohttp.ClientSession | None = None
        self.timeout: aiohttp.ClientTimeout | None = None
        self._signed: dict[str, tuple[int, dict]] = {}    # push service origin -> (exp, headers)

    def chat_interval(self, chat: str) -> float:
        return CHAT_INTERVAL

    def render(self, text: str, buttons: list[list[Button]], language: str) -> Rendered:
        rows = [[{"label": b.label, "data": b.data} for b in row] for row in buttons]
        return Rendered(fit({"title": translator(language)(TITLE), "text": text, "buttons": rows, "url": "/chat"}))

    async def start(self) -> None:
        import aiohttp
        import pywebpush  # noqa: F401 - loaded (a third of a second) here, not at the first push
        from py_vapid import Vapid

        # no-strict: a public URL with a port is a fine contact, though not what py_vapid expects.
        self.vapid = Vapid(await asyncio.to_thread(vapid_key, self.sessions), conf={"no-strict": True})
        self.timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        self.http = aiohttp.ClientSession(timeout=self.timeout)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    def _vapid_headers(self, endpoint: str) -> dict:
        """Signed once per push service and reused for 11 of its 12 hours."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = int(time.time())
        exp, headers = self._signed.get(audience, (0, {}))
        if exp - now < 3600:
            exp = now + 12 * 3600
            headers = self.vapid.sign({"sub": self.subject, "aud": audience, "exp": exp})
            self._signed[audience] = (exp, headers)
        return headers

    def _subscriptions(self, chat: str) -> list[WebPushSubscription]:
        with self.sessions() as session:
            return list(session.scalars(select(WebPushSubscription).join(
                Resident, Resident.id == WebPushSubscription.resident_id)
                .where(Resident.platform == PLATFORM, Resident.external_id == chat)
                .order_by(WebPushSubscription.id)))

    def _delete(self, ids: list[int]) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(WebPushSubscription).where(WebPushSubscription.id.in_(ids)))

    async def _push(self, sub: WebPushSubscription, payload: bytes) -> Delivery:
        import aiohttp
        from pywebpush import WebPusher, WebPushException

        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            response = await WebPusher(info, aiohttp_session=self.http).send_async(
                payload, dict(self._vapid_headers(sub.endpoint)), ttl=TTL_SECONDS,
                content_encoding="aes128gcm", timeout=self.timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return Delivery(Result.RETRY, f"web push network: {type(exc).__name__}")
        except WebPushException:   # keys it cannot encrypt for (checked when stored: should not happen)
            return Delivery(Result.FAILED, "web push: unusable subscription keys")
        status = response.status
        # Never the endpoint, the keys or the text: only what the service answered.
        if status in (200, 201, 202):
            return SENT
        if status in (404, 410):
            return GONE
        if status == 429:
            return Delivery(Result.THROTTLED, "web push 429", retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            return Delivery(Result.RETRY, f"web push {status}")
        return Delivery(Result.FAILED, f"web push {status}")

    async def send(self, chat: str, payload: bytes) -> Delivery:
        """To every browser of the resident (normally one). Sent if one took it. A resident with no
        subscription left is not made inactive (STOPPED would): they still chat on the page, so the
        row fails and reach.py stops counting them."""
        subs = await asyncio.to_thread(self._subscriptions, chat)
        if not subs:
            return Delivery(Result.FAILED, "web push: no subscription")
        deliveries = [await self._push(sub, payload) for sub in subs]
        gone = [sub.id for sub, d in zip(subs, deliveries) if d is GONE]
        if gone:
            await asyncio.to_thread(self._delete, gone)
            log.info("a web chat resident's browser dropped %d push subscription(s)", len(gone))
        for result in (Result.SENT, Result.THROTTLED, Result.RETRY):
            for delivery in deliveries:
                if delivery.result is result:
                    return delivery
        return next((d for d in deliveries if d is not GONE), GONE)
