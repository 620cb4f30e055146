"""A fake Zalo Bot Platform API server for tests and benchmarks.

It speaks the HTTP protocol of the Zalo Bot API (`POST` or `GET <base>/bot<token>/<method>`,
parameters as a JSON body, a form-encoded body or the query string; answers
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`),
keeps what the bot sent to each chat, and lets a test play the resident: send a text, an
image, a sticker, a voice message or something unsupported. Like tests/fakebotapi.py it runs
uvicorn in a background thread, so tests and the bot under test can use any event loop:

    with FakeZalo() as fake:            # or fake = FakeZalo().start() ... fake.stop()
        env["ZALO_API_URL"] = fake.url  # without /bot<token>; the bot's token is fake.token
        fake.send_text("u1", "xin chào")
        fake.wait_replies_sync("u1", 1)  # or, in an async test, await fake.wait_replies("u1", 1)
        assert fake.texts("u1") == [...]

Methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo, sendMessage,
sendPhoto, sendSticker, sendVoice, sendChatAction. Zalo has no inline keyboards, callback
queries or message edits: any other method answers 404 "Method not found". A wrong token
answers 401.

Sending a voice message. sendVoice takes `chat_id` and `voice`, the http(s) URL of a sound file
(the bot's own /media/audio/<name>.m4a, served at HOCVUSO_PUBLIC_URL). Like Zalo, the fake
fetches that URL while the call is in progress, with its own HTTP client: the call fails (400)
when the URL cannot be fetched, does not answer 200, or answers with a Content-Type other than
audio/*. The bytes it fetched are kept on the SentMessage (`data`, `data_type`), so a test can
check what a resident would hear.

Receiving. There is no offset: getUpdates is a long poll (`timeout` in seconds, also as a
string; `poll_default_timeout` when absent) that returns ONE event, `result` =
`{"event_name": ..., "message": {...}}`, and an event returned is gone (acknowledged by being
returned; `redeliver` sends one again). A newer getUpdates call ends an older one that is
still waiting (with the timeout answer), so a poll left behind by a killed client takes no
events. While a webhook is set, getUpdates answers 409 "Webhook is active" and every event
is POSTed to the webhook url as `{"ok": true, "result": <event>}` with the header
`X-Bot-Api-Secret-Token: <secret_token>` (`webhook_secret_override` sends another secret, or
with NO_SECRET none, to play an attacker or a misconfiguration). Deliveries run in the
server's own thread, one at a time per chat and in order (chats side by side); a non-2xx
answer or a connection error is retried `webhook_retries` times with a doubling backoff from
`webhook_backoff` seconds, then the event is dropped (`webhook_dropped`). Every attempt is
recorded in `webhook_attempts` with its HTTP status (None for a connection error), so a test
can check that the bot answered 403 to a wrong secret and 200 to the right one. Events still
waiting when the webhook is set are delivered to it; events not yet delivered when it is
deleted go back to getUpdates.

Our assumptions where the public documentation says nothing:
- when no event arrives within the timeout, getUpdates answers HTTP 200 with
  `{"ok": false, "error_code": 408, "description": "Request timeout"}` (set
  `poll_timeout_http_status` to 408 to play a platform that also uses the HTTP status);
- a voice message is `message.voice.received` with `"voice": "<url>"`;
- sendVoice fetches its URL at once (within `voice_fetch_timeout` seconds) and answers 400 when
  that fails; a voice message's size and length are not limited here;
- a chat in `blocked_chats` answers 403 "User has blocked the bot";
- setWebhook and deleteWebhook answer with the webhook info, `{"url": ..., "updated_at": <ms>}`;
  sendMessage, sendPhoto, sendSticker and sendVoice with `{"message_id": "<hex>", "date": <ms>}`;
  sendChatAction with true; error descriptions other than the documented ones are ours;
- the limits, all off by default and injectable: `global_rate` (accepted sends per sliding
  second) and `per_chat_interval` (seconds between two sends to one chat) apply to the
  sending methods (sendMessage, sendPhoto, sendSticker, sendVoice), answered HTTP 429 with a
  `Retry-After` header and `parameters.retry_after` in the body; `rate_limited` counts them.
  `send_delay`, `stall_next` and `blocked_chats`/`known_chats` apply to the same methods
  (the chat checks to sendChatAction too).

Records: `messages` (per chat, everything the bot sent: texts, photos, stickers, voice
messages) and `sent` (every accepted sendMessage, for the delivery benchmark), both of
SentMessage; `calls` (every call with its parameters). Nothing here logs a message text.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.background_server import serve_in_thread

BOT_ID = "4827316054917236541"
TOKEN = f"{BOT_ID}:ZALO-test-token-for-the-fake-server"
BOT_INFO = {"id": BOT_ID, "account_name": "bot.hocvuso", "account_type": "BASIC", "can_join_groups": False,
            "display_name": "Trợ lý BDHVS"}
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendSticker", "sendVoice"})
CHAT_ACTIONS = frozenset({"typing", "upload_photo"})
EVENT_TEXT = "message.text.received"
EVENT_IMAGE = "message.image.received"
EVENT_STICKER = "message.sticker.received"
EVENT_VOICE = "message.voice.received"
EVENT_UNSUPPORTED = "message.unsupported.received"
# webhook_secret_override = NO_SECRET: deliver without the secret header at all.
NO_SECRET = object()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the platform accepted from the bot (what the resident received).

    kind is "text" (sendMessage), "photo" (sendPhoto; text is the caption, "" without one),
    "sticker" (sendSticker; text is "") or "voice" (sendVoice; text is "", `voice` the URL and
    `data` the bytes the platform fetched from it, `data_type` their Content-Type)."""
    chat_id: str
    text: str
    message_id: str
    ts: float  # time.monotonic() when the server accepted it
    date: int  # unix milliseconds, as in the answer
    kind: str = "text"
    photo: str | None = None
    sticker: str | None = None
    voice: str | None = None
    data: bytes | None = None
    data_type: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One POST of an event to the webhook (or a try that could not connect)."""
    event: dict
    url: str
    secret: str | None  # the X-Bot-Api-Secret-Token sent; None when left out
    attempt: int  # 1 for the first try of this event, 2 for the first retry, ...
    status: int | None  # the bot's HTTP status; None for a connection error or a timeout
    error: str | None  # the exception's class name when there was no answer
    ts: float  # time.monotonic() when the answer (or the error) came

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def message_id(self) -> str | None:
        return (self.event.get("message") or {}).get("message_id")


@dataclass
class Failure:
    http_status: int
    error_code: int
    description: str
    retry_after: int | None = None


@dataclass
class _Stall:
    seconds: float
    deliver: bool


class _ApiError(Exception):
    """An error answer from a handler."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None,
                 http_status: int | None = None):
        super().__init__(description)
        self.error_code, self.description, self.retry_after = error_code, description, retry_after
        self.http_status = error_code if http_status is None else http_status

    def response(self) -> JSONResponse:
        return _error(self.http_status, self.error_code, self.description, self.retry_after)


def _error(http_status: int, error_code: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
    headers = None
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
        headers = {"Retry-After": str(retry_after)}
    return JSONResponse(body, http_status, headers=headers)


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, description)


@dataclass
class FakeZalo:
    token: str = TOKEN
    # Per chat id, everything the bot sent there and the platform accepted.
    messages: dict[str, list[SentMessage]] = field(default_factory=lambda: defaultdict(list))
    # Every call as (method, parameters), refused ones included.
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # Every accepted sendMessage, in the order the server accepted them.
    sent: list[SentMessage] = field(default_factory=list)
    # Called in the server thread after every accepted send: (chat_id, message).
    on_reply: Callable[[str, SentMessage], None] | None = None

    # ---- the platform under load, for the sending methods; all off by default ----------
    # Accepted sends per sliding 1-second window (e.g. 30).
    global_rate: float | None = None
    # Minimum seconds between two accepted sends to the same chat (e.g. 1.0).
    per_chat_interval: float | None = None
    # The Retry-After header and parameters.retry_after of a 429.
    retry_after_seconds: int = 1
    # How many 429s the limits above answered (injected failures not included).
    rate_limited: int = 0
    # Sends (and chat actions) to these chats: 403 "User has blocked the bot".
    blocked_chats: set[str] = field(default_factory=set)
    # When set, sends to any other chat: 400 "chat not found".
    known_chats: set[str] | None = None
    # Every send waits this long (without blocking the server) before it is handled.
    send_delay: float = 0.0

    # ---- receiving -------------------------------------------------------------------
    # getUpdates without a timeout parameter waits this long.
    poll_default_timeout: float = 30.0
    # The HTTP status of the 408 "Request timeout" answer (see the module docstring).
    poll_timeout_http_status: int = 200
    # Set by setWebhook, cleared by deleteWebhook.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Send this secret instead of the registered one (NO_SECRET: no header at all).
    webhook_secret_override: Any = None
    # Retries after the first attempt; the backoff doubles from webhook_backoff seconds.
    webhook_retries: int = 5
    webhook_backoff: float = 0.05
    # Seconds the bot has to answer one webhook POST.
    webhook_timeout: float = 5.0
    # Seconds sendVoice waits for the bot's server to hand over the sound file.
    voice_fetch_timeout: float = 15.0
    # Every delivery attempt, in the order the answers came.
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    # Events given up after every retry failed.
    webhook_dropped: list[dict] = field(default_factory=list)
    # The newest event a send_* helper, push_raw or redeliver queued.
    last_event: dict | None = None

    def __post_init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._pending: deque[dict] = deque()  # events for getUpdates
        self._webhook_queues: dict[Any, deque[dict]] = {}  # chat id -> events for the webhook
        self._webhook_workers: dict[Any, asyncio.Task] = {}  # chat id -> its delivery task (loop thread)
        self._webhook_updated_at = 0
        self._id_prefix = os.urandom(6).hex()
        self._ids = itertools.count(1)
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._stalls: deque[_Stall] = deque()
        self._window: deque[float] = deque()  # accepted send times in the last second
        self._last_to_chat: dict[str, float] = {}  # chat id -> time of its last accepted send
        self._poll_generation = 0  # the newest getUpdates call; older ones are ended
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, tuple[Callable, bool]] = {}
        for name in dir(type(self)):
            if name.startswith("api_") and callable(getattr(type(self), name)):
                handler = getattr(self, name)
                self._handlers[name[4:]] = (handler, asyncio.iscoroutinefunction(handler))

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL (ZALO_API_URL), without /bot<token>."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_url(self) -> str:
        """The base URL with /bot<token>: f"{fake.bot_url}/sendMessage"."""
        return f"{self.url}/bot{self.token}"

    def start(self, port: int = 0) -> FakeZalo:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])],
                        lifespan=self._lifespan)
        self._server, self._thread, self.port = serve_in_thread(app, "fake Zalo server", port)
        return self

    def stop(self) -> None:
        if self._server and self._thread and self._thread.is_alive():
            # End pending long polls, delays, stalls and webhook backoffs, or uvicorn waits for them.
            self._stopping = True
            self._wake()
            if self._loop and self._stopped:
                self._loop.call_soon_threadsafe(self._stopped.set)
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeZalo:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    async def __aenter__(self) -> FakeZalo:
        return self.start()

    async def __aexit__(self, *exc_info) -> None:
        self.stop()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._stopped = asyncio.Event()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        # Events queued before the server ran (or while a webhook was set) start moving now.
        self._schedule_webhook_workers()
        try:
            yield
        finally:
            self._stopped.set()
            workers = list(self._webhook_workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._session.close()

    # ---- playing the resident --------------------------------------------------------
    def new_id(self) -> str:
        """A unique hex string, 20 characters, as Zalo's message ids."""
        return f"{self._id_prefix}{next(self._ids):08x}"

    def _message(self, chat_id: str, name: str, chat_type: str, user_id: str | None, **content) -> dict:
        chat_id = str(chat_id)
        sender = {"id": str(user_id) if user_id is not None else chat_id, "display_name": name, "is_bot": False}
        return {"message_id": self.new_id(), "from": sender, "chat": {"id": chat_id, "chat_type": chat_type},
                "date": now_ms(), **content}

    def _event(self, event_name: str, chat_id: str, name: str, chat_type: str, user_id: str | None,
               **content) -> str:
        message = self._message(chat_id, name, chat_type, user_id, **content)
        self._push({"event_name": event_name, "message": message})
        return message["message_id"]

    def send_text(self, chat_id: str, text: str, name: str = "Lan", chat_type: str = "PRIVATE",
                  user_id: str | None = None) -> str:
        """The resident writes `text`; returns the event's message_id."""
        return self._event(EVENT_TEXT, chat_id, name, chat_type, user_id, text=text)

    def send_image(self, chat_id: str, caption: str | None = None, name: str = "Lan",
                   photo: str = "https://photo.example.zalo.me/fake/anh.jpg", chat_type: str = "PRIVATE",
                   user_id: str | None = None) -> str:
        content: dict[str, Any] = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        return self._event(EVENT_IMAGE, chat_id, name, chat_type, user_id, **content)

    def send_sticker(self, chat_id: str, sticker: str = "a1b2c3d4e5f6", name: str = "Lan",
                     chat_type: str = "PRIVATE", user_id: str | None = None) -> str:
        return self._event(EVENT_STICKER, chat_id, name, chat_type, user_id, sticker=sticker)

    def send_voice(self, chat_id: str, voice: str = "https://voice.example.zalo.me/fake/giong-noi.aac",
                   name: str = "Lan", chat_type: str = "PRIVATE", user_id: str | None = None) -> str:
        return self._event(EVENT_VOICE, chat_id, name, chat_type, user_id, voice=voice)

    def send_unsupported(self, chat_id: str, name: str = "Lan", chat_type: str = "PRIVATE",
                         user_id: str | None = None) -> str:
        """Something the platform does not pass on to bots (a file, a location, a call...)."""
        return self._event(EVENT_UNSUPPORTED, chat_id, name, chat_type, user_id)

    def push_raw(self, event: dict) -> None:
        """Queue any event dict as it is ({"event_name": ..., "message": {...}})."""
        self._push(event)

    def redeliver(self, event: dict) -> None:
        """Deliver the same event again (same message_id), to test duplicate handling."""
        self._push(event)

    def _push(self, event: dict) -> None:
        with self._lock:
            self.last_event = event
            if self.webhook_url is None:
                self._pending.append(event)
                to_webhook = False
            else:
                self._webhook_queues.setdefault(_chat_of(event), deque()).append(event)
                to_webhook = True
        if to_webhook:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._schedule_webhook_workers)
        else:
            self._wake()

    def _wake(self) -> None:
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    # ---- injecting trouble ----------------------------------------------------------
    def fail_next(self, method: str, http_status: int, error_code: int, description: str,
                  retry_after: int | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with this error (and, with retry_after, a
        Retry-After header and parameters.retry_after), without handling them."""
        with self._lock:
            self._failures[method].extend(Failure(http_status, error_code, description, retry_after)
                                          for _ in range(times))

    def fail_sends_with(self, status: int = 502, description: str = "Bad Gateway", count: int = 1) -> None:
        """Answer the next `count` sendMessage calls with HTTP `status` and an ok:false body."""
        self.fail_next("sendMessage", status, status, description, times=count)

    def ok_false_next(self, method: str, error_code: int, description: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 but {"ok": false, ...}."""
        self.fail_next(method, 200, error_code, description, times=times)

    def stall_next(self, n: int, seconds: float, *, deliver: bool = True) -> None:
        """Make the next n sends wait `seconds` (on top of send_delay) first.

        With deliver=True the message is then sent as usual, even if the client has given up
        waiting (a timed-out call may still have been delivered). With deliver=False it is
        dropped: nothing is sent and the answer is 504 Gateway Timeout."""
        with self._lock:
            self._stalls.extend(_Stall(seconds, deliver) for _ in range(n))

    # ---- observing -------------------------------------------------------------------
    def chat(self, chat_id: str) -> list[SentMessage]:
        with self._lock:
            return list(self.messages.get(str(chat_id), ()))

    def texts(self, chat_id: str) -> list[str]:
        """One text per message in chat(chat_id), in order: a sendMessage's text, a photo's
        caption, "" for a sticker, a voice message or a photo without one. So texts(chat)[n:]
        are the texts of the messages after the first n, with n from reply_count(chat)."""
        return [m.text for m in self.chat(chat_id)]

    def last(self, chat_id: str) -> SentMessage:
        return self.chat(chat_id)[-1]

    def reply_count(self, chat_id: str) -> int:
        """How many messages the platform accepted for this chat (texts, photos, stickers, voices)."""
        with self._lock:
            return len(self.messages.get(str(chat_id), ()))

    def calls_of(self, method: str) -> list[dict]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def sent_to(self, chat_id: str) -> list[SentMessage]:
        chat_id = str(chat_id)
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(chat_id, text) sent (sendMessage) more than once, with how often."""
        with self._lock:
            counts = Counter((m.chat_id, m.text) for m in self.sent)
        return {key: n for key, n in counts.items() if n > 1}

    def achieved_rate(self) -> float:
        """Accepted sendMessage calls per second between the first and the last one: (n - 1) /
        (last.ts - first.ts), 0.0 for fewer than 2 (as fakebotapi)."""
        with self._lock:
            if len(self.sent) < 2:
                return 0.0
            span = self.sent[-1].ts - self.sent[0].ts
            n = len(self.sent)
        return (n - 1) / span if span > 0 else float("inf")

    def pending(self) -> int:
        """Events not yet taken: waiting for getUpdates, or for (a successful) webhook delivery."""
        with self._lock:
            return len(self._pending) + sum(len(q) for q in self._webhook_queues.values())

    def webhook_statuses(self) -> list[int | None]:
        with self._lock:
            return [a.status for a in self.webhook_attempts]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the condition did not come true in time")
            await asyncio.sleep(0.005)

    async def wait_replies(self, chat_id: str, count: int, timeout: float = 10.0) -> None:
        """Wait until the platform has accepted `count` more messages for this chat than now
        (relative, as fakebotapi's; for an absolute count, wait_for(lambda: reply_count(chat)
        >= n))."""
        target = self.reply_count(chat_id) + count
        await self.wait_for(lambda: self.reply_count(chat_id) >= target, timeout)

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """wait_for for a plain synchronous test (blocks this thread, not the server)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the condition did not come true in time")
            time.sleep(0.005)

    def wait_replies_sync(self, chat_id: str, count: int, timeout: float = 10.0) -> None:
        """wait_replies for a plain synchronous test: `count` more messages than now."""
        target = self.reply_count(chat_id) + count
        self.wait_for_sync(lambda: self.reply_count(chat_id) >= target, timeout)

    # ---- the Bot API -----------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, 401, "Unauthorized")
        method = request.path_params["method"]
        try:
            params = await self._params(request)
        except ValueError:
            return _error(400, 400, "Bad Request: the parameters are not valid JSON")
        sending = method in SEND_METHODS
        stall = None
        with self._lock:
            self.calls.append((method, params))
            if sending and self._stalls:
                stall = self._stalls.popleft()
            dropped = stall is not None and not stall.deliver
            failures = self._failures.get(method)
            failure = failures.popleft() if failures and not dropped else None
        if sending:
            delay = self.send_delay + (stall.seconds if stall else 0.0)
            if delay > 0:
                await self._sleep(delay)
            if dropped:
                return _error(504, 504, "Gateway Timeout")
        if failure is not None:
            return _error(failure.http_status, failure.error_code, failure.description, failure.retry_after)
        entry = self._handlers.get(method)
        if entry is None:
            return _error(404, 404, "Method not found")
        handler, is_async = entry
        try:
            result = await handler(params) if is_async else handler(params)
        except _ApiError as exc:
            return exc.response()
        return JSONResponse({"ok": True, "result": result})

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that stop() cuts short."""
        if self._stopped is None or self._stopped.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    @staticmethod
    async def _params(request: Request) -> dict:
        """Query string parameters, overridden by those of a JSON or form-encoded body."""
        params = dict(request.query_params) if request.scope.get("query_string") else {}
        if request.method != "POST":
            return params
        body = await request.body()
        if not body:
            return params
        if request.headers.get("content-type", "").startswith("application/json"):
            raw = json.loads(body)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            params.update(raw)
        else:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        return params

    def api_getMe(self, params: dict) -> dict:
        return BOT_INFO

    async def api_getUpdates(self, params: dict) -> dict:
        raw = params.get("timeout")
        try:
            timeout = self.poll_default_timeout if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            raise _bad_request("timeout must be a number of seconds") from None
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            self._poll_generation += 1
            generation = self._poll_generation
        self._wakeup.set()  # wakes older polls, which then see they are stale
        while True:
            with self._lock:
                if self.webhook_url is not None:
                    raise _ApiError(409, "Webhook is active", http_status=409)
                if self._stopping or generation != self._poll_generation:
                    break
                if self._pending:
                    return self._pending.popleft()  # returned = acknowledged
                self._wakeup.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        raise _ApiError(408, "Request timeout", http_status=self.poll_timeout_http_status)

    def api_setWebhook(self, params: dict) -> dict:
        url = params.get("url")
        secret = params.get("secret_token")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
            raise _bad_request("url must be an https:// (or, for tests, http://) URL")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise _bad_request("secret_token must be 8 to 256 characters")
        with self._lock:
            self.webhook_url, self.webhook_secret = url, secret
            self._webhook_updated_at = now_ms()
            # Events nobody polled yet go to the webhook, in their order.
            while self._pending:
                event = self._pending.popleft()
                self._webhook_queues.setdefault(_chat_of(event), deque()).append(event)
            info = self._webhook_info()
        self._wakeup.set()  # a waiting getUpdates now answers 409
        self._schedule_webhook_workers()
        return info

    def api_deleteWebhook(self, params: dict) -> dict:
        with self._lock:
            self.webhook_url = self.webhook_secret = None
            self._webhook_updated_at = now_ms()
            info = self._webhook_info()
        # Workers hand their undelivered events back to getUpdates (see _deliver_chat).
        self._schedule_webhook_workers()
        return info

    def api_getWebhookInfo(self, params: dict) -> dict:
        with self._lock:
            return self._webhook_info()

    def _webhook_info(self) -> dict:
        return {"url": self.webhook_url or "", "updated_at": self._webhook_updated_at}

    def _chat_id(self, params: dict) -> str:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is required")
        chat_id = str(chat_id)
        if chat_id in self.blocked_chats:
            raise _ApiError(403, "User has blocked the bot")
        if self.known_chats is not None and chat_id not in self.known_chats:
            raise _bad_request("chat not found")
        return chat_id

    @staticmethod
    def _text(value: Any, name: str) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT:
            raise _bad_request(f"{name} must be 1 to {MAX_TEXT} characters")
        return value

    def api_sendMessage(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        text = self._text(params.get("text"), "text")
        return self._accept(chat_id, text, "text")

    def api_sendPhoto(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo:
            raise _bad_request("photo is required")
        caption = params.get("caption")
        caption = "" if caption in (None, "") else self._text(caption, "caption")
        return self._accept(chat_id, caption, "photo", photo=photo)

    def api_sendSticker(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        sticker = params.get("sticker")
        if not isinstance(sticker, str) or not sticker:
            raise _bad_request("sticker is required")
        return self._accept(chat_id, "", "sticker", sticker=sticker)

    async def api_sendVoice(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        voice = params.get("voice")
        if not isinstance(voice, str) or not voice:
            raise _bad_request("voice is required")
        parts = urlsplit(voice)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise _bad_request("voice must be an https:// (or, for tests, http://) URL")
        data, data_type = await self._fetch_voice(voice)
        return self._accept(chat_id, "", "voice", voice=voice, data=data, data_type=data_type)

    async def _fetch_voice(self, url: str) -> tuple[bytes, str]:
        """The sound file at `url`, as Zalo's servers fetch it when sendVoice comes."""
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=self.voice_fetch_timeout)) as got:
                data = await got.read()
                status, data_type = got.status, got.headers.get("Content-Type", "")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _bad_request(f"could not fetch the voice file ({type(exc).__name__})") from None
        if status != 200:
            raise _bad_request(f"could not fetch the voice file (HTTP {status})")
        if not data_type.startswith("audio/") or not data:
            raise _bad_request(f"the voice file is not audio ({data_type or 'no Content-Type'})")
        return data, data_type

    def api_sendChatAction(self, params: dict) -> bool:
        self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad_request("action must be typing or upload_photo")
        return True

    def _accept(self, chat_id: str, text: str, kind: str, photo: str | None = None,
                sticker: str | None = None, voice: str | None = None, data: bytes | None = None,
                data_type: str | None = None) -> dict:
        date = now_ms()
        with self._lock:
            now = self._check_limits(chat_id)
            message = SentMessage(chat_id, text, self.new_id(), now, date, kind, photo, sticker, voice, data,
                                  data_type)
            self.messages[chat_id].append(message)
            if kind == "text":
                self.sent.append(message)
        if self.on_reply is not None:
            self.on_reply(chat_id, message)
        return {"message_id": message.message_id, "date": date}

    def _check_limits(self, chat_id: str) -> float:
        """Under the lock: raise a 429 if one more send now breaks a limit, or else count it as
        accepted and return the time. O(1) amortized, as in fakebotapi."""
        now = time.monotonic()
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if self.global_rate is not None and len(window) + 1 > self.global_rate:
            self._too_many_requests()
        if self.per_chat_interval is not None:
            last = self._last_to_chat.get(chat_id)
            if last is not None and now - last < self.per_chat_interval:
                self._too_many_requests()
        window.append(now)
        self._last_to_chat[chat_id] = now
        return now

    def _too_many_requests(self) -> None:
        self.rate_limited += 1
        raise _ApiError(429, "Too Many Requests", retry_after=self.retry_after_seconds)

    # ---- webhook delivery (all in the server's loop) ---------------------------------
    def _schedule_webhook_workers(self) -> None:
        """Start a delivery task for every chat with queued events and none running."""
        if self._session is None or self._stopping:
            return
        with self._lock:
            chats = [chat for chat in self._webhook_queues if chat not in self._webhook_workers]
        for chat in chats:
            self._webhook_workers[chat] = self._loop.create_task(self._deliver_chat(chat))

    async def _deliver_chat(self, chat: Any) -> None:
        while True:
            # Checking the queue and leaving the workers happen without an await in between, so
            # an event queued meanwhile always finds either this task or none (and starts one).
            with self._lock:
                queue = self._webhook_queues.get(chat)
                if queue and self.webhook_url is None:  # deleted: back to getUpdates, in order
                    self._pending.extend(queue)
                    queue.clear()
                if not queue:
                    self._webhook_queues.pop(chat, None)
                    self._webhook_workers.pop(chat, None)
                    wake = bool(self._pending)
                    break
                event = queue[0]  # still pending until delivered
            outcome = await self._deliver(event)
            if outcome == "stopped":
                return
            with self._lock:
                if outcome == "dropped":
                    self.webhook_dropped.append(event)
                if outcome != "requeue" and queue and queue[0] is event:
                    queue.popleft()
        if wake:
            self._wakeup.set()

    async def _deliver(self, event: dict) -> str:
        """POST one event until the bot answers 2xx: "delivered", "dropped" after the last
        retry, "requeue" when the webhook was deleted meanwhile, "stopped" on stop()."""
        body = json.dumps({"ok": True, "result": event}, ensure_ascii=False).encode()
        attempt = 0
        while True:
            if self._stopping:
                return "stopped"
            with self._lock:
                url, secret = self.webhook_url, self.webhook_secret
            if url is None:
                return "requeue"
            override = self.webhook_secret_override
            sent_secret = None if override is NO_SECRET else (override if override is not None else secret)
            headers = {"Content-Type": "application/json"}
            if sent_secret is not None:
                headers[SECRET_HEADER] = sent_secret
            attempt += 1
            status = error = None
            try:
                async with self._session.post(url, data=body, headers=headers,
                                              timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)) as answer:
                    await answer.read()
                    status = answer.status
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error = type(exc).__name__
            record = WebhookAttempt(event, url, sent_secret, attempt, status, error, time.monotonic())
            with self._lock:
                self.webhook_attempts.append(record)
            if record.ok:
                return "delivered"
            if attempt > self.webhook_retries:
                return "dropped"
            await self._sleep(self.webhook_backoff * 2 ** (attempt - 1))


def _chat_of(event: dict) -> Any:
    message = event.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    return chat.get("id") if isinstance(chat, dict) else None


def main() -> None:
    """Play a Zalo resident by hand: `python -m tests.fakezalo`, then start the bot with the
    command it prints, in another terminal, and type. Each line is one message."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8091, help="where the fake listens (default 8091)")
    parser.add_argument("--chat", default="demo-resident", help="the resident's Zalo id")
    parser.add_argument("--name", default="Lan", help="the resident's Zalo name")
    args = parser.parse_args()
    fake = FakeZalo(on_reply=lambda chat, message: print(f"\n{message.text}\n", flush=True))
    fake.start(args.port)
    print(f"In another terminal:\n  ZALO_BOT_TOKEN='{fake.token}' ZALO_API_URL={fake.url} make run\n"
          "Then type here as the resident (Ctrl-D to stop).", flush=True)
    try:
        while True:
            line = input("> ")
            if line.strip():
                fake.send_text(args.chat, line, name=args.name)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
