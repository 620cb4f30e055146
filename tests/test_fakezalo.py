"""The fake Zalo Bot API behaves as the platform is documented, over real HTTP: every method's
happy path, the 2,000-character limit, one event per getUpdates, the webhook with its secret
header and retries, 429s under the injectable limits, and injected failures."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

import aiohttp
import httpx
import pytest
from aiohttp import web

from tests.fakezalo import (BOT_INFO, NO_SECRET, SECRET_HEADER, FakeZalo, SentMessage, WebhookAttempt)

HEX = re.compile(r"^[0-9a-f]{20}$")
SECRET = "a-long-enough-secret"


@pytest.fixture
def fake():
    server = FakeZalo().start()
    yield server
    server.stop()


async def call(fake: FakeZalo, method: str, *, token: str | None = None, get: bool = False,
               **kwargs) -> httpx.Response:
    url = f"{fake.url}/bot{token or fake.token}/{method}"
    async with httpx.AsyncClient(timeout=10) as client:
        if get:
            return await client.get(url, **kwargs)
        return await client.post(url, **kwargs)


async def ok(fake: FakeZalo, method: str, **params):
    answer = await call(fake, method, json=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True, body
    return body["result"]


class Receiver:
    """A bot's webhook endpoint: 403 to a wrong or missing secret, else `fail_first` 500s, then 200."""

    def __init__(self, secret: str = SECRET, fail_first: int = 0, delay: float = 0.0):
        self.secret, self.fail_first, self.delay = secret, fail_first, delay
        self.received: list[tuple[str | None, dict]] = []  # (secret header, body) of every POST
        self.accepted: list[dict] = []  # the events of the 200s
        self.in_flight = self.max_in_flight_per_chat = 0
        self._per_chat: dict[str, int] = {}

    async def handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER)
        body = await request.json()
        self.received.append((secret, body))
        if secret != self.secret:
            return web.json_response({"message": "forbidden"}, status=403)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.json_response({"message": "oops"}, status=500)
        chat = body["result"]["message"]["chat"]["id"]
        self._per_chat[chat] = self._per_chat.get(chat, 0) + 1
        self.max_in_flight_per_chat = max(self.max_in_flight_per_chat, self._per_chat[chat])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self._per_chat[chat] -= 1
        self.accepted.append(body["result"])
        return web.json_response({"message": "Success"})

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/zalo/webhook", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}/zalo/webhook"

    async def __aexit__(self, *exc_info) -> None:
        await self._runner.cleanup()


# ---- lifecycle and calls ------------------------------------------------------------------
def test_everything_is_off_by_default():
    fake = FakeZalo()
    assert fake.global_rate is None and fake.per_chat_interval is None and fake.retry_after_seconds == 1
    assert fake.blocked_chats == set() and fake.known_chats is None and fake.send_delay == 0
    assert fake.webhook_url is None and fake.webhook_secret_override is None
    assert fake.sent == [] and fake.rate_limited == 0 and fake.pending() == 0
    assert fake.achieved_rate() == 0.0 and fake.duplicates() == {}


def test_context_manager_starts_and_stops():
    with FakeZalo() as fake:
        assert httpx.post(f"{fake.bot_url}/getMe").json() == {"ok": True, "result": BOT_INFO}
        port = fake.port
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}/bot{fake.token}/getMe", timeout=2)


async def test_async_context_manager():
    async with FakeZalo() as fake:
        assert await ok(fake, "getMe") == BOT_INFO


async def test_get_me(fake):
    me = await ok(fake, "getMe")
    assert me == {"id": me["id"], "account_name": "bot.hocvuso", "account_type": "BASIC",
                  "can_join_groups": False, "display_name": "Trợ lý BDHVS"}
    assert isinstance(me["id"], str) and fake.token.startswith(me["id"])
    assert (await call(fake, "getMe", get=True)).json()["result"] == me


async def test_wrong_token_is_401(fake):
    answer = await call(fake, "getMe", token="1:wrong")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert fake.calls == []


@pytest.mark.parametrize("method", ["editMessageText", "answerCallbackQuery", "sendDocument", "nothing"])
async def test_unknown_method_is_404(fake, method):
    answer = await call(fake, method, json={"chat_id": "u1", "text": "x"})
    assert answer.status_code == 404
    assert answer.json() == {"ok": False, "error_code": 404, "description": "Method not found"}


async def test_parameters_as_json_form_or_query_string(fake):
    assert (await call(fake, "sendMessage", json={"chat_id": "u1", "text": "json"})).status_code == 200
    assert (await call(fake, "sendMessage", data={"chat_id": "u1", "text": "biểu mẫu"})).status_code == 200
    assert (await call(fake, "sendMessage", params={"chat_id": "u1", "text": "truy vấn"})).status_code == 200
    assert (await call(fake, "sendMessage", get=True, params={"chat_id": "u1", "text": "get"})).status_code == 200
    assert fake.texts("u1") == ["json", "biểu mẫu", "truy vấn", "get"]
    broken = await call(fake, "sendMessage", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["ok"] is False


# ---- sending ------------------------------------------------------------------------------
async def test_send_message_is_recorded(fake):
    before = int(time.time() * 1000)
    result = await ok(fake, "sendMessage", chat_id="u1", text="Xin chào Lan")
    assert set(result) == {"message_id", "date"} and HEX.match(result["message_id"])
    assert before <= result["date"] <= int(time.time() * 1000)
    second = await ok(fake, "sendMessage", chat_id="u1", text="Bạn cần gì?")
    assert second["message_id"] != result["message_id"]

    message = fake.last("u1")
    assert isinstance(message, SentMessage)
    assert (message.chat_id, message.text, message.message_id, message.kind) == ("u1", "Bạn cần gì?",
                                                                                 second["message_id"], "text")
    assert fake.texts("u1") == ["Xin chào Lan", "Bạn cần gì?"]
    assert fake.reply_count("u1") == 2 and fake.reply_count("u2") == 0 and fake.chat("u2") == []
    assert [m.text for m in fake.sent_to("u1")] == fake.texts("u1") and fake.sent == fake.chat("u1")
    assert fake.calls_of("sendMessage") == [{"chat_id": "u1", "text": "Xin chào Lan"},
                                            {"chat_id": "u1", "text": "Bạn cần gì?"}]


async def test_send_photo_sticker_and_chat_action(fake):
    photo = await ok(fake, "sendPhoto", chat_id="u1", photo="https://example.org/a.jpg", caption="Ảnh hướng dẫn")
    bare = await ok(fake, "sendPhoto", chat_id="u1", photo="https://example.org/b.jpg")
    sticker = await ok(fake, "sendSticker", chat_id="u1", sticker="s123")
    assert all(HEX.match(r["message_id"]) and isinstance(r["date"], int) for r in (photo, bare, sticker))
    assert await ok(fake, "sendChatAction", chat_id="u1", action="typing") is True
    assert await ok(fake, "sendChatAction", chat_id="u1", action="upload_photo") is True

    chat = fake.chat("u1")
    assert [(m.kind, m.text, m.photo, m.sticker) for m in chat] == [
        ("photo", "Ảnh hướng dẫn", "https://example.org/a.jpg", None),
        ("photo", "", "https://example.org/b.jpg", None),
        ("sticker", "", None, "s123")]
    assert fake.texts("u1") == ["Ảnh hướng dẫn", "", ""] and fake.reply_count("u1") == 3
    assert fake.sent == []  # only sendMessage counts there

    for method, params in [("sendChatAction", {"chat_id": "u1", "action": "recording"}),
                           ("sendPhoto", {"chat_id": "u1"}), ("sendSticker", {"chat_id": "u1"}),
                           ("sendMessage", {"text": "không có chat_id"})]:
        answer = await call(fake, method, json=params)
        assert answer.status_code == 400 and answer.json()["error_code"] == 400, method
    assert fake.reply_count("u1") == 3


async def test_the_2000_character_limit(fake):
    assert await ok(fake, "sendMessage", chat_id="u1", text="ệ" * 2000)  # characters, not bytes
    for text in ["ệ" * 2001, "", None]:
        params = {"chat_id": "u1"} if text is None else {"chat_id": "u1", "text": text}
        answer = await call(fake, "sendMessage", json=params)
        assert answer.status_code == 400
        body = answer.json()
        assert body["ok"] is False and body["error_code"] == 400 and "text" in body["description"]
    assert [len(t) for t in fake.texts("u1")] == [2000]
    too_long = await call(fake, "sendPhoto", json={"chat_id": "u1", "photo": "https://e.org/a", "caption": "x" * 2001})
    assert too_long.status_code == 400


# ---- receiving by getUpdates --------------------------------------------------------------
async def test_get_updates_returns_one_event_at_a_time_then_408(fake):
    first = fake.send_text("u1", "xin chào", name="Lan")
    second = fake.send_text("u2", "hỏi bài")
    assert fake.pending() == 2 and HEX.match(first) and first != second

    event = await ok(fake, "getUpdates", timeout="30")
    assert event == {"event_name": "message.text.received",
                     "message": {"message_id": first, "from": {"id": "u1", "display_name": "Lan", "is_bot": False},
                                 "chat": {"id": "u1", "chat_type": "PRIVATE"}, "date": event["message"]["date"],
                                 "text": "xin chào"}}
    assert abs(event["message"]["date"] - time.time() * 1000) < 5000
    assert fake.pending() == 1
    assert (await ok(fake, "getUpdates", timeout=30))["message"]["message_id"] == second
    assert fake.pending() == 0  # returned = acknowledged: gone

    started = time.monotonic()
    answer = await call(fake, "getUpdates", json={"timeout": "1"})
    assert 0.9 <= time.monotonic() - started < 2.5
    assert answer.status_code == 200
    assert answer.json() == {"ok": False, "error_code": 408, "description": "Request timeout"}


async def test_a_waiting_poll_gets_the_event_at_once(fake):
    poll = asyncio.create_task(call(fake, "getUpdates", json={"timeout": 10}))
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=3)
    await asyncio.sleep(0.05)
    started = time.monotonic()
    message_id = fake.send_text("u1", "có ai không")
    answer = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 1
    assert answer.json()["result"]["message"]["message_id"] == message_id


async def test_a_newer_poll_ends_an_older_one(fake):
    old = asyncio.create_task(call(fake, "getUpdates", json={"timeout": 10}))
    await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) == 1, timeout=3)
    new = asyncio.create_task(call(fake, "getUpdates", json={"timeout": 10}))
    assert (await asyncio.wait_for(old, 3)).json()["error_code"] == 408
    fake.send_text("u1", "cho cuộc gọi mới")
    assert (await asyncio.wait_for(new, 3)).json()["result"]["message"]["text"] == "cho cuộc gọi mới"


async def test_resident_event_shapes(fake):
    fake.send_image("u1", caption="ảnh CCCD")
    fake.send_image("u1")
    fake.send_sticker("u1")
    fake.send_voice("u1")
    fake.send_unsupported("u1")
    fake.send_text("g1", "chào cả nhóm", name="Minh", chat_type="GROUP", user_id="u9")
    events = [await ok(fake, "getUpdates", timeout=1) for _ in range(6)]
    assert [e["event_name"] for e in events] == [
        "message.image.received", "message.image.received", "message.sticker.received",
        "message.voice.received", "message.unsupported.received", "message.text.received"]
    image, bare, sticker, voice, unsupported, group = (e["message"] for e in events)
    assert image["photo"].startswith("https://") and image["caption"] == "ảnh CCCD"
    assert "caption" not in bare and "text" not in bare
    assert isinstance(sticker["sticker"], str) and voice["voice"].startswith("https://")
    assert set(unsupported) == {"message_id", "from", "chat", "date"}
    assert group["chat"] == {"id": "g1", "chat_type": "GROUP"} and group["from"]["id"] == "u9"
    assert group["from"]["display_name"] == "Minh"
    assert len({e["message"]["message_id"] for e in events}) == 6


async def test_redeliver_and_push_raw(fake):
    fake.send_text("u1", "một lần")
    event = fake.last_event
    fake.redeliver(event)
    fake.push_raw({"event_name": "message.text.received", "message": {"message_id": "abc", "text": "thô"}})
    got = [await ok(fake, "getUpdates", timeout=1) for _ in range(3)]
    assert got[0] == got[1] == event
    assert got[2]["message"]["message_id"] == "abc" and fake.last_event == got[2]


# ---- receiving by webhook -----------------------------------------------------------------
async def test_set_webhook_validates_url_and_secret(fake):
    for secret in ["short", "x" * 257, None]:
        params = {"url": "https://bot.example.org/zalo"}
        if secret is not None:
            params["secret_token"] = secret
        answer = await call(fake, "setWebhook", json=params)
        assert answer.status_code == 400 and "secret_token" in answer.json()["description"]
    answer = await call(fake, "setWebhook", json={"url": "ftp://bot.example.org", "secret_token": SECRET})
    assert answer.status_code == 400 and "url" in answer.json()["description"]
    assert (await ok(fake, "getWebhookInfo"))["url"] == ""

    info = await ok(fake, "setWebhook", url="https://bot.example.org/zalo", secret_token="x" * 8)
    assert info["url"] == "https://bot.example.org/zalo" and abs(info["updated_at"] - time.time() * 1000) < 5000
    assert await ok(fake, "getWebhookInfo") == info
    assert (await ok(fake, "deleteWebhook"))["url"] == ""
    assert (await ok(fake, "getWebhookInfo"))["url"] == ""


async def test_webhook_delivers_with_the_secret_and_blocks_polling(fake):
    async with Receiver() as url:
        await ok(fake, "setWebhook", url=url, secret_token=SECRET)
        answer = await call(fake, "getUpdates", json={"timeout": 5})
        assert answer.status_code == 409
        assert answer.json() == {"ok": False, "error_code": 409, "description": "Webhook is active"}

        message_id = fake.send_text("u1", "qua webhook")
        await fake.wait_for(lambda: fake.pending() == 0 and fake.webhook_attempts, timeout=5)
        attempt = fake.webhook_attempts[0]
        assert isinstance(attempt, WebhookAttempt)
        assert (attempt.status, attempt.secret, attempt.attempt, attempt.url) == (200, SECRET, 1, url)
        assert attempt.ok and attempt.message_id == message_id
        assert fake.webhook_statuses() == [200]


async def test_a_waiting_poll_answers_409_when_a_webhook_is_set(fake):
    poll = asyncio.create_task(call(fake, "getUpdates", json={"timeout": 10}))
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=3)
    await ok(fake, "setWebhook", url="http://127.0.0.1:9/never", secret_token=SECRET)
    assert (await asyncio.wait_for(poll, 3)).json()["error_code"] == 409


async def test_webhook_body_and_order_per_chat(fake):
    receiver = Receiver(delay=0.01)
    async with receiver as url:
        fake.send_text("u1", "trước webhook")  # waiting events go to the webhook once it is set
        await ok(fake, "setWebhook", url=url, secret_token=SECRET)
        for i in range(5):
            fake.send_text("u1", f"u1 tin {i}")
            fake.send_text("u2", f"u2 tin {i}")
        await fake.wait_for(lambda: len(receiver.accepted) == 11 and fake.pending() == 0, timeout=5)
    secret, body = receiver.received[0]
    assert secret == SECRET and body["ok"] is True
    assert body["result"]["event_name"] == "message.text.received"
    assert body["result"]["message"]["text"] == "trước webhook"
    texts = [e["message"]["text"] for e in receiver.accepted]
    assert [t for t in texts if t.startswith("u1")] == [f"u1 tin {i}" for i in range(5)]
    assert [t for t in texts if t.startswith("u2")] == [f"u2 tin {i}" for i in range(5)]
    assert receiver.max_in_flight_per_chat == 1  # one at a time per chat
    assert fake.pending() == 0 and fake.webhook_dropped == []


async def test_webhook_retries_on_500(fake):
    fake.webhook_backoff = 0.01
    receiver = Receiver(fail_first=2)
    async with receiver as url:
        await ok(fake, "setWebhook", url=url, secret_token=SECRET)
        message_id = fake.send_text("u1", "thử lại")
        await fake.wait_for(lambda: fake.pending() == 0, timeout=5)
    assert fake.webhook_statuses() == [500, 500, 200]
    assert [a.attempt for a in fake.webhook_attempts] == [1, 2, 3]
    assert {a.message_id for a in fake.webhook_attempts} == {message_id}
    assert fake.pending() == 0 and fake.webhook_dropped == []


async def test_wrong_secret_is_recorded_and_dropped_after_the_retries(fake):
    fake.webhook_backoff = 0.01
    fake.webhook_retries = 2
    fake.webhook_secret_override = "attacker-secret"
    receiver = Receiver()
    async with receiver as url:
        await ok(fake, "setWebhook", url=url, secret_token=SECRET)
        fake.send_text("u1", "giả mạo")
        await fake.wait_for(lambda: fake.webhook_dropped, timeout=5)
        assert fake.webhook_statuses() == [403, 403, 403]
        assert {a.secret for a in fake.webhook_attempts} == {"attacker-secret"}
        assert receiver.accepted == [] and fake.pending() == 0

        fake.webhook_secret_override = NO_SECRET
        fake.send_text("u1", "không có khóa")
        await fake.wait_for(lambda: len(fake.webhook_dropped) == 2, timeout=5)
        assert receiver.received[-1][0] is None and fake.webhook_attempts[-1].secret is None

        fake.webhook_secret_override = None  # the registered secret again
        fake.send_text("u1", "đúng khóa")
        await fake.wait_for(lambda: fake.pending() == 0, timeout=5)
    assert len(receiver.accepted) == 1
    assert fake.webhook_statuses()[-1] == 200 and fake.webhook_attempts[-1].secret == SECRET


async def test_webhook_connection_error_is_retried(fake):
    fake.webhook_backoff = 0.01
    fake.webhook_retries = 1
    async with Receiver() as url:
        pass  # closed: nothing listens there any more
    await ok(fake, "setWebhook", url=url, secret_token=SECRET)
    fake.send_text("u1", "không ai nghe")
    await fake.wait_for(lambda: fake.webhook_dropped, timeout=5)
    assert fake.webhook_statuses() == [None, None]
    assert all(a.error and not a.ok for a in fake.webhook_attempts)


async def test_delete_webhook_hands_undelivered_events_back_to_polling(fake):
    fake.webhook_backoff = 0.2
    receiver = Receiver(fail_first=100)
    async with receiver as url:
        await ok(fake, "setWebhook", url=url, secret_token=SECRET)
        first = fake.send_text("u1", "một")
        second = fake.send_text("u1", "hai")
        await fake.wait_for(lambda: fake.webhook_attempts, timeout=5)
        await ok(fake, "deleteWebhook")
        got = [(await ok(fake, "getUpdates", timeout=3))["message"]["message_id"] for _ in range(2)]
    assert got == [first, second]
    assert fake.pending() == 0 and fake.webhook_dropped == []


# ---- limits and injected failures ---------------------------------------------------------
async def test_global_rate_answers_429_with_retry_after(fake):
    fake.global_rate = 3
    fake.retry_after_seconds = 2
    await ok(fake, "sendMessage", chat_id="u1", text="nhắc lịch")
    await asyncio.sleep(0.3)  # so that later only the first send leaves the window
    for chat in ["u2", "u3"]:
        await ok(fake, "sendMessage", chat_id=chat, text="nhắc lịch")
    answer = await call(fake, "sendMessage", json={"chat_id": "u4", "text": "nhắc lịch"})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert answer.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests",
                             "parameters": {"retry_after": 2}}
    assert fake.rate_limited == 1 and [m.chat_id for m in fake.sent] == ["u1", "u2", "u3"]
    await asyncio.sleep(fake.sent[0].ts + 1.0 - time.monotonic() + 0.02)  # the window slides
    await ok(fake, "sendMessage", chat_id="u4", text="nhắc lịch")
    assert (await call(fake, "sendSticker", json={"chat_id": "u5", "sticker": "s"})).status_code == 429
    assert fake.rate_limited == 2


async def test_per_chat_interval(fake):
    fake.per_chat_interval = 0.3
    await ok(fake, "sendMessage", chat_id="u1", text="một")
    assert (await call(fake, "sendMessage", json={"chat_id": "u1", "text": "hai"})).status_code == 429
    await ok(fake, "sendMessage", chat_id="u2", text="một")  # other chats are not held back
    await asyncio.sleep(fake.sent_to("u1")[-1].ts + 0.3 - time.monotonic() + 0.02)
    await ok(fake, "sendMessage", chat_id="u1", text="hai")
    assert fake.rate_limited == 1 and fake.texts("u1") == ["một", "hai"]


async def test_injected_5xx_ok_false_and_fail_next(fake):
    fake.fail_sends_with(502, "Bad Gateway", count=1)
    fake.ok_false_next("sendMessage", -201, "Tham số không hợp lệ")
    fake.fail_next("sendPhoto", 429, 429, "Quota exceeded", retry_after=7)
    answer = await call(fake, "sendMessage", json={"chat_id": "u1", "text": "x"})
    assert answer.status_code == 502
    assert answer.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    answer = await call(fake, "sendMessage", json={"chat_id": "u1", "text": "x"})
    assert answer.status_code == 200
    assert answer.json() == {"ok": False, "error_code": -201, "description": "Tham số không hợp lệ"}
    answer = await call(fake, "sendPhoto", json={"chat_id": "u1", "photo": "https://e.org/a"})
    assert (answer.status_code, answer.headers["Retry-After"], answer.json()["parameters"]) == (
        429, "7", {"retry_after": 7})
    assert fake.sent == [] and fake.rate_limited == 0
    await ok(fake, "sendMessage", chat_id="u1", text="x")
    assert len(fake.sent) == 1 and len(fake.calls_of("sendMessage")) == 3


async def test_blocked_and_unknown_chats(fake):
    fake.blocked_chats = {"u7"}
    answer = await call(fake, "sendMessage", json={"chat_id": "u7", "text": "nhắc lịch"})
    assert answer.status_code == 403
    assert answer.json() == {"ok": False, "error_code": 403, "description": "User has blocked the bot"}
    assert (await call(fake, "sendChatAction", json={"chat_id": "u7", "action": "typing"})).status_code == 403
    fake.known_chats = {"u1", "u7"}
    answer = await call(fake, "sendMessage", json={"chat_id": "u3", "text": "nhắc lịch"})
    assert (answer.status_code, answer.json()["description"]) == (400, "chat not found")
    await ok(fake, "sendMessage", chat_id="u1", text="nhắc lịch")
    assert [m.chat_id for m in fake.sent] == ["u1"]


async def test_stalls_and_send_delay(fake):
    fake.stall_next(1, 0.4)
    fake.stall_next(1, 0.2, deliver=False)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{fake.bot_url}/sendMessage", json={"chat_id": "u1", "text": "chậm"}, timeout=0.1)
        dropped = await client.post(f"{fake.bot_url}/sendMessage", json={"chat_id": "u1", "text": "mất"})
        assert dropped.status_code == 504 and dropped.json()["ok"] is False
        # A timed-out call may still have been delivered.
        await fake.wait_for(lambda: fake.texts("u1") == ["chậm"], timeout=3)

        fake.send_delay = 0.2
        started = time.monotonic()
        answers = await asyncio.gather(*(client.post(f"{fake.bot_url}/sendMessage",
                                                     json={"chat_id": f"c{i}", "text": "x"}) for i in range(10)))
        assert all(a.status_code == 200 for a in answers)
        assert 0.2 <= time.monotonic() - started < 1.5  # side by side, not 10 x 0.2 s


async def test_duplicates_rate_and_wait_replies(fake):
    for chat, text in [("u1", "a"), ("u1", "a"), ("u2", "a"), ("u1", "b"), ("u2", "c"), ("u2", "c")]:
        await ok(fake, "sendMessage", chat_id=chat, text=text)
    assert fake.duplicates() == {("u1", "a"): 2, ("u2", "c"): 2}
    assert fake.achieved_rate() > 0

    waiting = asyncio.create_task(fake.wait_replies("u3", 2, timeout=3))
    await ok(fake, "sendMessage", chat_id="u3", text="một")
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await ok(fake, "sendPhoto", chat_id="u3", photo="https://e.org/a")
    await waiting
    with pytest.raises(TimeoutError):
        await fake.wait_replies("u3", 1, timeout=0.1)


def test_sync_helpers_from_a_plain_test(fake):
    def bot():  # a bot in another thread, answering each text once
        with httpx.Client(timeout=5) as client:
            for _ in range(2):
                event = client.post(f"{fake.bot_url}/getUpdates", json={"timeout": 5}).json()["result"]
                client.post(f"{fake.bot_url}/sendMessage",
                            json={"chat_id": event["message"]["chat"]["id"], "text": "đã nhận"})

    thread = threading.Thread(target=bot)
    thread.start()
    fake.send_text("u1", "một")
    fake.wait_replies_sync("u1", 1, timeout=5)
    fake.send_text("u1", "hai")
    fake.wait_for_sync(lambda: fake.texts("u1") == ["đã nhận", "đã nhận"], timeout=5)
    thread.join(5)
    with pytest.raises(TimeoutError):
        fake.wait_replies_sync("u1", 1, timeout=0.05)


async def test_many_concurrent_sends_and_bookkeeping_that_does_not_grow(fake):
    """A thousand concurrent sends all answered once; the cost of a send does not grow with the
    messages already kept (the delivery benchmark pushes tens of thousands). Compared as a ratio
    of per-send costs measured in this process, never against the clock: a busy CI machine
    slows both sizes alike."""
    async def send(session: aiohttp.ClientSession, i: int) -> int:
        async with session.post(f"{fake.bot_url}/sendMessage",
                                json={"chat_id": f"c{i % 50}", "text": f"tin {i}"}) as answer:
            await answer.read()
            return answer.status

    # aiohttp rather than httpx: httpx's pool is the bottleneck with many concurrent calls.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        statuses = await asyncio.gather(*(send(session, i) for i in range(1000)))
    assert set(statuses) == {200}
    assert len(fake.sent) == 1000 and fake.duplicates() == {}

    def per_send(count: int) -> float:
        """The best of three runs' seconds per send, into a fake that already holds `count`."""
        best = float("inf")
        for _ in range(3):
            direct = FakeZalo(global_rate=1e9, per_chat_interval=0.0)
            for i in range(count):
                direct.api_sendMessage({"chat_id": f"c{i % 500}", "text": "x"})
            started = time.perf_counter()
            for i in range(2_000):
                direct.api_sendMessage({"chat_id": f"c{i % 500}", "text": "x"})
            best = min(best, (time.perf_counter() - started) / 2_000)
            assert len(direct.sent) == count + 2_000
        return best

    assert per_send(20_000) < 3 * per_send(0)


async def test_never_logs_message_texts(fake, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "BÍ-MẬT-7f3a"
    fake.webhook_backoff = 0.01
    fake.webhook_retries = 0
    await ok(fake, "sendMessage", chat_id="u1", text=marker)
    await call(fake, "sendMessage", json={"chat_id": "u1", "text": marker * 500})
    fake.send_text("u1", marker)
    await ok(fake, "getUpdates", timeout=1)
    await ok(fake, "setWebhook", url="http://127.0.0.1:9/closed", secret_token=SECRET)
    fake.send_text("u1", marker)
    await fake.wait_for(lambda: fake.webhook_dropped, timeout=5)
    assert marker not in caplog.text
