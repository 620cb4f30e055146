"""A fake Telegram Bot API server for tests and benchmarks.

It speaks the real HTTP protocol that python-telegram-bot uses (POST /bot<token>/<method>,
form or JSON parameters, {"ok": ..., "result": ...} answers), keeps the chats' messages
with their edits, and lets a test play the resident: send text, press buttons, send
stickers. It runs uvicorn in a background thread, so tests and the bot under test can
use any event loop.

For proactive sending (an outbox drained by a delivery engine) it can also behave like
Telegram under load; everything is off by default:

- flood limits on sendMessage: `global_rate` messages per sliding second (`paid_rate` for
  calls with allow_paid_broadcast) and `per_chat_interval` seconds between two messages to
  one chat, answered with 429 "Too Many Requests: retry after N"; `rate_limited` counts them;
- `blocked_chats` (403 "bot was blocked by the user"), `known_chats` (400 "chat not found");
- latency: `send_delay` on every sendMessage, `stall_next` for a few slow ones (client
  timeouts), `fail_sends_with` for 5xx answers;
- `sent`: every accepted sendMessage as a SentRecord, with `sent_to`, `duplicates` and
  `achieved_rate` to check what residents received.

Files: sendPhoto and sendVoice take an upload (multipart/form-data, as python-telegram-bot sends
a file) and are kept in `media` per chat as SentMedia with the bytes; `send_voice_note` plays a
resident sending a voice note, whose bytes the bot fetches with getFile and /file/bot<token>/<path>.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.background_server import serve_in_thread

TOKEN = "123456:TEST-token-for-the-fake-server"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Trợ lý BDHVS", "username": "hocvuso_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": True}
JSON_PARAMS = {"reply_markup", "allowed_updates", "commands", "results", "entities", "link_preview_options",
               "reply_parameters", "scope"}
INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "cache_time", "max_connections"}
REPLY_METHODS = {"sendMessage", "editMessageText"}


@dataclass
class BotMessage:
    message_id: int
    chat_id: int
    text: str
    reply_markup: dict | None
    edits: int = 0

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", "")) for b in row] for row in rows]

    def as_telegram(self) -> dict:
        msg = {"message_id": self.message_id, "date": int(time.time()), "text": self.text,
               "chat": {"id": self.chat_id, "type": "private", "first_name": "Resident"}, "from": BOT_USER}
        if self.reply_markup:
            msg["reply_markup"] = self.reply_markup
        return msg


@dataclass
class Failure:
    error_code: int
    description: str
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One sendMessage that Telegram accepted (what the resident received).

    text and reply_markup are the objects parsed from the request, shared, not copied."""
    chat_id: int
    text: str
    reply_markup: dict | None
    allow_paid_broadcast: bool
    ts: float  # time.monotonic() when the server accepted it
    message_id: int = 0


@dataclass(frozen=True)
class SentMedia:
    """A picture or voice note the bot uploaded (sendPhoto, sendVoice)."""
    chat_id: int
    kind: str            # "photo" | "voice"
    data: bytes
    caption: str
    filename: str
    message_id: int


@dataclass
class _Stall:
    seconds: float
    deliver: bool


@dataclass
class FakeBotAPI:
    token: str = TOKEN
    messages: dict[int, list[BotMessage]] = field(default_factory=lambda: defaultdict(list))
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # Called in the server thread after every sendMessage/editMessageText: (chat_id, message).
    on_reply: Callable[[int, BotMessage], None] | None = None

    # ---- Telegram's behaviour under load, for sendMessage; all off by default ----------
    # Overall limit: accepted sendMessage calls per sliding 1-second window (e.g. 30).
    global_rate: float | None = None
    # The limit instead of global_rate for calls with allow_paid_broadcast (only enforced
    # while global_rate is set). Paid and free sends share one window.
    paid_rate: float = 1000.0
    # Minimum seconds between two accepted messages to the same chat (e.g. 1.0).
    per_chat_interval: float | None = None
    # N in "Too Many Requests: retry after N" and parameters.retry_after.
    retry_after_seconds: int = 1
    # How many 429s the limits above answered (injected failures not included).
    rate_limited: int = 0
    # sendMessage to these chats: 403 "Forbidden: bot was blocked by the user".
    blocked_chats: set[int] = field(default_factory=set)
    # When set, sendMessage to any other chat: 400 "Bad Request: chat not found".
    known_chats: set[int] | None = None
    # Every sendMessage waits this long (without blocking the server) before it is handled.
    send_delay: float = 0.0
    # Every accepted sendMessage, in the order the server accepted them.
    sent: list[SentRecord] = field(default_factory=list)
    # answerInlineQuery results by inline query id.
    inline_answers: dict[str, list[dict]] = field(default_factory=dict)
    # sendPhoto / sendVoice uploads per chat, in order.
    media: dict[int, list[SentMedia]] = field(default_factory=lambda: defaultdict(list))
    # Files residents sent (send_voice_note), by file_id, for getFile and the file download.
    files: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        self._next_update = 1000
        self._next_message = 1
        self._next_callback = 1
        self._failures: dict[str, list[Failure]] = defaultdict(list)
        self._stalls: deque[_Stall] = deque()
        self._window: deque[float] = deque()  # accepted sendMessage times in the last second
        self._last_to_chat: dict[Any, float] = {}  # chat_id -> time of its last accepted send
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._poll_generation = 0  # the newest getUpdates call; older ones are terminated
        self._stopping = False
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeBotAPI:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"])],
                        lifespan=self._lifespan)
        self._server, self._thread, self.port = serve_in_thread(app, "fake Bot API server")
        return self

    def stop(self) -> None:
        if self._server:
            # End pending long polls (e.g. from a bot process that was killed), or uvicorn
            # waits for them to time out before it stops.
            self._stopping = True
            self._wake()
            if self._loop and self._stopped:  # ends delayed and stalled sendMessage calls
                self._loop.call_soon_threadsafe(self._stopped.set)
            self._server.should_exit = True
            self._thread.join(timeout=10)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._stopped = asyncio.Event()
        yield

    # ---- playing the resident --------------------------------------------------------
    def _push(self, body: dict) -> int:
        with self._lock:
            update_id = self._next_update
            self._next_update += 1
            self._pending.append({"update_id": update_id, **body})
        self._wake()
        return update_id

    def _wake(self) -> None:
        if self._loop and self._wakeup:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    @staticmethod
    def user(chat_id: int, first_name: str = "Lan") -> dict:
        return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}

    def _message(self, chat_id: int, first_name: str, chat_type: str = "private", **content) -> dict:
        with self._lock:
            message_id = self._next_message
            self._next_message += 1
        chat = {"id": chat_id, "type": chat_type, "first_name": first_name}
        if chat_type != "private":
            chat = {"id": chat_id, "type": chat_type, "title": "Nhóm bản"}
        return {"message_id": message_id, "date": int(time.time()), "chat": chat,
                "from": self.user(abs(chat_id), first_name), **content}

    def send_text(self, chat_id: int, text: str, first_name: str = "Lan", chat_type: str = "private") -> int:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": self._message(chat_id, first_name, chat_type, **content)})

    def send_media(self, chat_id: int, kind: str, first_name: str = "Lan") -> int:
        file = {"file_id": f"F{kind}", "file_unique_id": f"U{kind}"}
        content = {
            "sticker": {"sticker": {**file, "type": "regular", "width": 512, "height": 512,
                                    "is_animated": False, "is_video": False}},
            "photo": {"photo": [{**file, "width": 90, "height": 90}]},
            "voice": {"voice": {**file, "duration": 3}},
            "location": {"location": {"latitude": 21.43, "longitude": 103.68}},
            "document": {"document": {**file, "file_name": "a.pdf"}},
        }[kind]
        return self._push({"message": self._message(chat_id, first_name, **content)})

    def send_voice_note(self, chat_id: int, data: bytes, duration: int = 3, first_name: str = "Lan") -> int:
        """The resident records a voice note (OGG/Opus bytes, as Telegram's app makes)."""
        with self._lock:
            file_id = f"Fvoice{len(self.files) + 1}"
            self.files[file_id] = data
        voice = {"file_id": file_id, "file_unique_id": "U" + file_id, "duration": duration,
                 "mime_type": "audio/ogg", "file_size": len(data)}
        return self._push({"message": self._message(chat_id, first_name, voice=voice)})

    def press(self, chat_id: int, data: str, message_id: int | None = None, first_name: str = "Lan") -> int:
        """Press a button with this callback data (on the newest message that has it)."""
        message = self._find_button_message(chat_id, data, message_id)
        with self._lock:
            query_id = str(self._next_callback)
            self._next_callback += 1
        return self._push({"callback_query": {"id": query_id, "from": self.user(chat_id, first_name),
                                              "chat_instance": f"ci{chat_id}", "data": data,
                                              "message": message.as_telegram()}})

    def inline_query(self, user_id: int, query: str, first_name: str = "Lan") -> str:
        """Type "@bot <query>" in any chat; returns the query id (see inline_answers)."""
        with self._lock:
            query_id = f"iq{self._next_callback}"
            self._next_callback += 1
        self._push({"inline_query": {"id": query_id, "from": self.user(user_id, first_name), "query": query,
                                     "offset": ""}})
        return query_id

    def press_label(self, chat_id: int, label_part: str) -> int:
        """Press the first button whose label contains label_part, on the newest message."""
        for message in reversed(self.messages[chat_id]):
            for row in message.buttons:
                for label, data in row:
                    if label_part in label:
                        return self.press(chat_id, data, message.message_id)
        raise LookupError(f"no button containing {label_part!r} in chat {chat_id}")

    def _find_button_message(self, chat_id: int, data: str, message_id: int | None) -> BotMessage:
        with self._lock:
            for message in reversed(self.messages[chat_id]):
                if message_id is not None and message.message_id != message_id:
                    continue
                if message_id is not None or any(d == data for row in message.buttons for _, d in row):
                    return message
        raise LookupError(f"no message with button {data!r} in chat {chat_id}")

    def push_raw(self, body: dict) -> int:
        return self._push(body)

    def redeliver(self, update: dict) -> None:
        """Deliver an update again with the same update_id (Telegram does this after errors)."""
        with self._lock:
            self._pending.append(update)
        self._wake()

    def fail_next(self, method: str, error_code: int, description: str, retry_after: int | None = None,
                  times: int = 1) -> None:
        with self._lock:
            self._failures[method] += [Failure(error_code, description, retry_after)] * times

    def fail_sends_with(self, status: int = 502, description: str = "Bad Gateway", count: int = 1) -> None:
        """Answer the next `count` sendMessage calls with this error (e.g. 500, 502, 503)."""
        self.fail_next("sendMessage", status, description, times=count)

    def stall_next(self, n: int, seconds: float, *, deliver: bool = True) -> None:
        """Make the next n sendMessage calls wait `seconds` (on top of send_delay) first.

        With deliver=True the message is then sent as usual, even if the client has given
        up waiting (as with Telegram, a timed-out call may still have been delivered). With
        deliver=False it is dropped: nothing is sent and the answer is 504 Gateway Timeout."""
        with self._lock:
            self._stalls.extend(_Stall(seconds, deliver) for _ in range(n))

    # ---- observing -------------------------------------------------------------------
    def chat(self, chat_id: int) -> list[BotMessage]:
        with self._lock:
            return list(self.messages[chat_id])

    def last(self, chat_id: int) -> BotMessage:
        return self.chat(chat_id)[-1]

    def calls_of(self, method: str) -> list[dict]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def reply_count(self, chat_id: int) -> int:
        with self._lock:
            return sum(1 for name, p in self.calls if name in REPLY_METHODS and p.get("chat_id") == chat_id)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not answer in time")
            await asyncio.sleep(0.01)

    async def wait_replies(self, chat_id: int, count: int, timeout: float = 10.0) -> None:
        """Wait until the bot has sent or edited `count` more messages in this chat than now."""
        target = self.reply_count(chat_id) + count
        await self.wait_for(lambda: self.reply_count(chat_id) >= target, timeout)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def sent_to(self, chat_id: int) -> list[SentRecord]:
        with self._lock:
            return [r for r in self.sent if r.chat_id == chat_id]

    def duplicates(self) -> dict[tuple[int, str], int]:
        """(chat_id, text) sent more than once, with how often."""
        with self._lock:
            counts = Counter((r.chat_id, r.text) for r in self.sent)
        return {key: n for key, n in counts.items() if n > 1}

    def achieved_rate(self) -> float:
        """Accepted sends per second between the first and the last one (0.0 for fewer than 2).

        It counts intervals, (n - 1) / (last.ts - first.ts), so n sends paced at exactly
        r per second give r, not a little more."""
        with self._lock:
            if len(self.sent) < 2:
                return 0.0
            span = self.sent[-1].ts - self.sent[0].ts
            n = len(self.sent)
        return (n - 1) / span if span > 0 else float("inf")

    # ---- the Bot API -----------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.path_params["method"]
        params = await self._params(request)
        stall = None
        with self._lock:
            self.calls.append((method, params))
            if method == "sendMessage" and self._stalls:
                stall = self._stalls.popleft()
            dropped = stall is not None and not stall.deliver
            failure = self._failures[method].pop(0) if self._failures[method] and not dropped else None
        if method == "sendMessage":
            delay = self.send_delay + (stall.seconds if stall else 0.0)
            if delay > 0:
                await self._sleep(delay)
            if dropped:
                return JSONResponse({"ok": False, "error_code": 504, "description": "Gateway Timeout"}, 504)
        if failure:
            body: dict[str, Any] = {"ok": False, "error_code": failure.error_code,
                                    "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return JSONResponse(body, failure.error_code)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404)
        try:
            result = await handler(params) if asyncio.iscoroutinefunction(handler) else handler(params)
        except _BadRequest as exc:
            return JSONResponse({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}, 400)
        except _ApiError as exc:
            return JSONResponse(exc.body(), exc.error_code)
        return JSONResponse({"ok": True, "result": result})

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that stop() cuts short, so the server never waits for a stall."""
        if self._stopped is None or self._stopped.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    @staticmethod
    async def _params(request: Request) -> dict:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            raw = {}
            for key, value in form.multi_items():
                if hasattr(value, "read"):   # an uploaded file: its bytes and name
                    raw[key] = await value.read()
                    raw[key + "#filename"] = value.filename or ""
                else:
                    raw[key] = value
            await form.close()
        elif request.headers.get("content-type", "").startswith("application/json"):
            raw = await request.json()
        else:
            body = (await request.body()).decode() if request.method == "POST" else ""
            raw = dict(parse_qsl(body, keep_blank_values=True)) or dict(request.query_params)
        params = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in JSON_PARAMS:
                value = json.loads(value)
            elif isinstance(value, str) and key in INT_PARAMS:
                value = int(value) if value.lstrip("-").isdigit() else value
            params[key] = value
        return params

    def api_getMe(self, params: dict) -> dict:
        return BOT_USER

    def api_deleteWebhook(self, params: dict) -> bool:
        return True

    def api_setWebhook(self, params: dict) -> bool:
        return True

    def api_setMyCommands(self, params: dict) -> bool:
        return True

    def api_answerCallbackQuery(self, params: dict) -> bool:
        return True

    def api_answerInlineQuery(self, params: dict) -> bool:
        """Telegram refuses more than 50 results; so does this fake."""
        results = params.get("results") or []
        if len(results) > 50:
            raise ValueError("Bad Request: too many inline query results")
        with self._lock:
            self.inline_answers[str(params.get("inline_query_id"))] = results
        return True

    def api_close(self, params: dict) -> bool:
        return True

    async def api_getUpdates(self, params: dict) -> list[dict]:
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            # Like Telegram, a new getUpdates call terminates an older one still waiting: a
            # long poll left behind by a stopped or killed client must not take updates that
            # nobody will read.
            self._poll_generation += 1
            generation = self._poll_generation
        self._wakeup.set()  # wakes the older waiters, which then see they are stale
        while True:
            with self._lock:
                if self._stopping or generation != self._poll_generation:
                    return []
                # Confirming an offset forgets older updates, as Telegram does.
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
                batch = sorted(self._pending, key=lambda u: u["update_id"])[:limit]
                if batch:
                    # Hand out, and drop at once: redelivery is explicit (see redeliver).
                    handed = {id(u) for u in batch}
                    self._pending = [u for u in self._pending if id(u) not in handed]
                    return batch
                self._wakeup.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return []

    def api_sendMessage(self, params: dict) -> dict:
        chat_id = params["chat_id"]
        if chat_id in self.blocked_chats:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if self.known_chats is not None and chat_id not in self.known_chats:
            raise _BadRequest("chat not found")
        if not str(params.get("text", "")).strip():
            raise _BadRequest("message text is empty")
        if len(params["text"]) > 4096:
            raise _BadRequest("message is too long")
        paid = params.get("allow_paid_broadcast") in (True, "true", "True", "1", 1)
        with self._lock:
            now = self._check_flood_limits(chat_id, paid)
            message = BotMessage(self._next_message, chat_id, params["text"], params.get("reply_markup"))
            self._next_message += 1
            self.messages[chat_id].append(message)
            self.sent.append(SentRecord(chat_id, message.text, message.reply_markup, paid, now,
                                        message.message_id))
        if self.on_reply:
            self.on_reply(chat_id, message)
        return message.as_telegram()

    def _check_flood_limits(self, chat_id: Any, paid: bool) -> float:
        """Under the lock: raise a 429 if one more message now breaks a limit, or else count
        it as accepted and return the time. O(1) amortized: each time enters and leaves the
        window once."""
        now = time.monotonic()
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        limit = (self.paid_rate if paid else self.global_rate) if self.global_rate is not None else None
        if limit is not None and len(window) + 1 > limit:
            self._too_many_requests()
        last = self._last_to_chat.get(chat_id)
        if self.per_chat_interval is not None and last is not None and now - last < self.per_chat_interval:
            self._too_many_requests()
        window.append(now)
        self._last_to_chat[chat_id] = now
        return now

    def _too_many_requests(self) -> None:
        self.rate_limited += 1
        n = self.retry_after_seconds
        raise _ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})

    def api_sendPhoto(self, params: dict) -> dict:
        return self._send_file(params, "photo")

    def api_sendVoice(self, params: dict) -> dict:
        return self._send_file(params, "voice")

    def _send_file(self, params: dict, kind: str) -> dict:
        chat_id = params["chat_id"]
        data = params.get(kind)
        if not isinstance(data, bytes) or not data:
            raise _BadRequest(f"there is no {kind} in the request")
        caption = str(params.get("caption") or "")
        if len(caption) > 1024:
            raise _BadRequest("message caption is too long")
        with self._lock:
            message_id = self._next_message
            self._next_message += 1
            self.media[chat_id].append(SentMedia(chat_id, kind, data, caption, params.get(kind + "#filename", ""),
                                                 message_id))
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Resident"}, "from": BOT_USER,
                kind: ([{"file_id": f"P{message_id}", "file_unique_id": f"UP{message_id}", "width": 800,
                         "height": 600}] if kind == "photo" else
                       {"file_id": f"V{message_id}", "file_unique_id": f"UV{message_id}", "duration": 1})}

    def api_getFile(self, params: dict) -> dict:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            data = self.files.get(file_id)
        if data is None:
            raise _BadRequest("wrong file_id or the file is temporarily unavailable")
        return {"file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(data),
                "file_path": f"voice/{file_id}.oga"}

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        file_id = request.path_params["path"].rsplit("/", 1)[-1].removesuffix(".oga")
        with self._lock:
            data = self.files.get(file_id)
        if data is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return Response(data, media_type="audio/ogg")

    def api_editMessageText(self, params: dict) -> dict:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        with self._lock:
            message = next((m for m in self.messages[chat_id] if m.message_id == message_id), None)
            if message is None:
                raise _BadRequest("message to edit not found")
            markup = params.get("reply_markup")
            if message.text == params["text"] and message.reply_markup == markup:
                raise _BadRequest("message is not modified: specified new message content and reply "
                                  "markup are exactly the same as a current content and reply markup "
                                  "of the message")
            message.text, message.reply_markup = params["text"], markup
            message.edits += 1
        if self.on_reply:
            self.on_reply(chat_id, message)
        return message.as_telegram()


class _BadRequest(Exception):
    pass


class _ApiError(Exception):
    """An error answer from a handler: {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, error_code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.error_code, self.description, self.parameters = error_code, description, parameters

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body
