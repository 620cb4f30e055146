"""Webhook mode: Telegram posts updates to the ASGI app (bot.web), served by a real uvicorn."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from bot.config import Settings
from bot.web import create_app
from tests.telegram_helpers import looks_vietnamese

WEBHOOK_URL = "https://bot.example.org/telegram/webhook"
SECRET = "s3cret_value_for_tests"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class ServedApp:
    """An ASGI app on uvicorn in a background thread (lifespan on), on a free local port."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 10) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the app did not stop"


def wait_healthz(url: str, telegram: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            body = response.json() if response.status_code == 200 else {}
            if body.get("telegram") == telegram:
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"/healthz never said telegram={telegram!r}; last answer {body}")


@pytest.fixture
def webhook_app(fake_api, assistant, settings_for):
    settings = settings_for(TELEGRAM_BOT_TOKEN=fake_api.token, TELEGRAM_API_URL=fake_api.url,
                            TELEGRAM_WEBHOOK_URL=WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET=SECRET)
    served = ServedApp(create_app(settings, assistant)).start()
    try:
        health = wait_healthz(served.url, "ready")
        assert health["ok"] is True and health["telegram"] == "ready"
        yield served
    finally:
        served.stop()


def start_update(update_id: int, chat_id: int, text: str = "/start") -> dict:
    return {"update_id": update_id,
            "message": {"message_id": update_id, "date": int(time.time()), "text": text,
                        "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
                        "from": {"id": chat_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
                        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}}


async def test_webhook_is_registered_with_its_secret(fake_api, webhook_app):
    [call] = fake_api.calls_of("setWebhook")
    assert call["url"] == WEBHOOK_URL
    assert call["secret_token"] == SECRET
    # Webhook mode never polls (Telegram refuses getUpdates while a webhook is set).
    assert fake_api.calls_of("getUpdates") == []
    assert fake_api.calls_of("setMyCommands")


async def test_command_menu_is_in_vietnamese(fake_api, webhook_app):
    """Telegram shows these descriptions in the resident's "/" menu."""
    [call] = fake_api.calls_of("setMyCommands")
    commands = {c["command"]: c["description"] for c in call["commands"]}
    assert set(commands) == {"start", "menu", "hoctiep", "tiendo", "trogiup", "ngonngu", "sukien", "caidat", "giadinh", "xoadulieu"}
    english = {name: text for name, text in commands.items() if not looks_vietnamese(text)}
    assert english == {}, f"command descriptions not translated: {english}"


async def test_webhook_checks_the_secret_token(fake_api, webhook_app):
    chat = 3301
    endpoint = f"{webhook_app.url}/telegram/webhook"
    async with httpx.AsyncClient(timeout=10) as client:
        wrong = await client.post(endpoint, json=start_update(7001, chat), headers={SECRET_HEADER: "s3cret_value_for_testX"})
        assert wrong.status_code == 403
        missing = await client.post(endpoint, json=start_update(7002, chat))
        assert missing.status_code == 403
        empty = await client.post(endpoint, json=start_update(7003, chat), headers={SECRET_HEADER: ""})
        assert empty.status_code == 403

        right = await client.post(endpoint, json=start_update(7004, chat), headers={SECRET_HEADER: SECRET})
        assert right.status_code == 200 and right.json() == {"ok": True}
    await fake_api.wait_for(lambda: len(fake_api.chat(chat)) >= 2)
    greeting, consent = fake_api.chat(chat)
    assert "Xin chào" in greeting.text
    assert [d for _, d in consent.buttons[0]] == ["c:y", "c:n"]
    # One chat's updates are handled in order, so the rejected ones (posted first) would have
    # been answered by now: only the accepted update got replies.
    assert len(fake_api.calls_of("sendMessage")) == 2


async def test_webhook_rejects_garbage_and_handles_a_repeated_update_once(fake_api, webhook_app):
    chat = 3302
    endpoint = f"{webhook_app.url}/telegram/webhook"
    headers = {SECRET_HEADER: SECRET}
    async with httpx.AsyncClient(timeout=10) as client:
        garbage = await client.post(endpoint, content=b"not json", headers=headers)
        assert garbage.status_code == 400
        # Telegram resends an update when it did not get our 200 in time.
        for _ in range(2):
            response = await client.post(endpoint, json=start_update(7101, chat), headers=headers)
            assert response.status_code == 200
        after = await client.post(endpoint, json=start_update(7102, chat, "/trogiup"), headers=headers)
        assert after.status_code == 200
    await fake_api.wait_for(lambda: any("Cách dùng trợ lý" in m.text for m in fake_api.chat(chat)))
    texts = [m.text for m in fake_api.chat(chat)]
    assert len(texts) == 3, texts  # greeting + consent once, then the help
    assert "Xin chào" in texts[0] and "Cách dùng trợ lý" in texts[2]


def test_webhook_url_without_secret_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ValidationError) as excinfo:
        Settings(TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_WEBHOOK_URL=WEBHOOK_URL)
    assert "TELEGRAM_WEBHOOK_SECRET" in str(excinfo.value)


def test_cli_reports_the_missing_webhook_secret(monkeypatch, capsys):
    from bot.cli import load_settings

    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    with pytest.raises(SystemExit) as excinfo:
        load_settings()
    assert excinfo.value.code == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err


async def test_webhook_refuses_update_ids_out_of_range(fake_api, webhook_app):
    endpoint = f"{webhook_app.url}/telegram/webhook"
    headers = {SECRET_HEADER: SECRET}
    async with httpx.AsyncClient(timeout=10) as client:
        for update_id in (10**30, -1, "7", True, None):
            body = start_update(0, 3303) | {"update_id": update_id}
            answer = await client.post(endpoint, json=body, headers=headers)
            assert answer.status_code == 400, update_id
        largest = await client.post(endpoint, json=start_update(2**63 - 1, 3303), headers=headers)
        assert largest.status_code == 200
    await fake_api.wait_for(lambda: len(fake_api.chat(3303)) >= 2)
