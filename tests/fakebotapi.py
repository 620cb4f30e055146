"""A fake Telegram Bot API server for tests and benchmarks.

It speaks the real HTTP protocol that python-telegram-bot uses (POST /bot<token>/<method>,
form or JSON parameters, {"ok": ..., "result": ...} answers), keeps the chats' messages
with their edits, and lets a test play the resident: send text, press buttons, send
stickers. It runs uvicorn in a background thread, so tests and the bot under test can
use any event loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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


@dataclass
class FakeBotAPI:
    token: str = TOKEN
    messages: dict[int, list[BotMessage]] = field(default_factory=lambda: defaultdict(list))
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # Called in the server thread after every sendMessage/editMessageText: (chat_id, message).
    on_reply: Callable[[int, BotMessage], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        self._next_update = 1000
        self._next_message = 1
        self._next_callback = 1
        self._failures: dict[str, list[Failure]] = defaultdict(list)
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
        sock = socket.socket()
        # Without TCP_NODELAY every answer waits ~40 ms for a delayed ACK (Nagle's algorithm),
        # which made each bot round trip take ~90 ms. Accepted connections inherit the option.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])],
                        lifespan=self._lifespan)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Bot API server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server:
            # End pending long polls (e.g. from a bot process that was killed), or uvicorn
            # waits for them to time out before it stops.
            self._stopping = True
            self._wake()
            self._server.should_exit = True
            self._thread.join(timeout=10)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
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

    def press(self, chat_id: int, data: str, message_id: int | None = None, first_name: str = "Lan") -> int:
        """Press a button with this callback data (on the newest message that has it)."""
        message = self._find_button_message(chat_id, data, message_id)
        with self._lock:
            query_id = str(self._next_callback)
            self._next_callback += 1
        return self._push({"callback_query": {"id": query_id, "from": self.user(chat_id, first_name),
                                              "chat_instance": f"ci{chat_id}", "data": data,
                                              "message": message.as_telegram()}})

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

    # ---- the Bot API -----------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.path_params["method"]
        params = await self._params(request)
        with self._lock:
            self.calls.append((method, params))
            failure = self._failures[method].pop(0) if self._failures[method] else None
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
        return JSONResponse({"ok": True, "result": result})

    @staticmethod
    async def _params(request: Request) -> dict:
        if request.headers.get("content-type", "").startswith("application/json"):
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
        if not str(params.get("text", "")).strip():
            raise _BadRequest("message text is empty")
        if len(params["text"]) > 4096:
            raise _BadRequest("message is too long")
        with self._lock:
            message = BotMessage(self._next_message, chat_id, params["text"], params.get("reply_markup"))
            self._next_message += 1
            self.messages[chat_id].append(message)
        if self.on_reply:
            self.on_reply(chat_id, message)
        return message.as_telegram()

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
