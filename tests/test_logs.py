"""The README promises logs with no names, chat ids, typed text, invite codes or tokens, at any
level: a real `hocvuso serve` at DEBUG, driven through Telegram and the admin API, is checked."""
from __future__ import annotations

import logging

import httpx

from bot.logs import format_exception_safely, setup_logging
from tests.telegram_helpers import act
from tests.test_serve_process import Serve, processes, sqlite_url  # noqa: F401 - the fixture

CHAT, NEIGHBOUR = 7_391_846_205, 7_391_846_206
NAME = "Zyqwerthanh"
TYPED = "cho toi hoi Qmarkerword nhe mat khau Xq7pLm22zz"
ADMIN = "admin-token-for-the-log-test-0123456789abcdef"
WRONG = "wrong-token-value-that-must-not-appear-1234"


async def test_debug_logs_carry_no_personal_data_or_secrets(tmp_path, processes, fake_api):  # noqa: F811
    serve = Serve(tmp_path, "debug", HOCVUSO_DATABASE_URL=sqlite_url(tmp_path), HOCVUSO_LOG_LEVEL="DEBUG",
                  TELEGRAM_BOT_TOKEN=fake_api.token, TELEGRAM_API_URL=fake_api.url, HOCVUSO_ADMIN_TOKEN=ADMIN)
    processes.append(serve)
    serve.wait_healthz("ready")
    await act(fake_api, CHAT, lambda: fake_api.send_text(CHAT, "/start", first_name=NAME), 2, timeout=15)
    await act(fake_api, CHAT, lambda: fake_api.press(CHAT, "c:y", first_name=NAME), 2, timeout=15)
    await act(fake_api, CHAT, lambda: fake_api.send_text(CHAT, TYPED, first_name=NAME), 1, timeout=15)
    invite = httpx.post(f"{serve.url}/api/v1/ambassadors/invites", json={},
                        headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10).json()["code"]
    await act(fake_api, CHAT, lambda: fake_api.send_text(CHAT, f"/daisuso {invite}", first_name=NAME), 1, timeout=15)
    await act(fake_api, CHAT, lambda: fake_api.send_text(CHAT, "/giadinh", first_name=NAME), 1, timeout=15)
    await act(fake_api, CHAT, lambda: fake_api.press(CHAT, "gd:new", first_name=NAME), 2, timeout=15)
    link = next(b["url"] for row in fake_api.last(CHAT).reply_markup["inline_keyboard"] for b in row if "url" in b)
    household = link.split("start=", 1)[1]
    await act(fake_api, NEIGHBOUR, lambda: fake_api.send_text(NEIGHBOUR, f"/start {household}"), 2, timeout=15)
    for _ in range(3):
        httpx.get(f"{serve.url}/api/v1/villages", headers={"Authorization": f"Bearer {WRONG}"}, timeout=10)
    serve.terminate()

    logs = serve.stdout + serve.stderr
    assert "DEBUG bot.channels.telegram.inbound: update" in logs   # the logs were captured, at DEBUG
    secrets = {"chat id": str(CHAT), "neighbour's chat id": str(NEIGHBOUR), "name": NAME,
               "typed text": "Qmarkerword", "typed password": "Xq7pLm22zz", "invite code": invite,
               "household code": household.removeprefix("hh_"), "admin token": ADMIN, "wrong token": WRONG,
               "bot token": fake_api.token.split(":", 1)[1]}
    leaked = {what: value for what, value in secrets.items() if value.lower() in logs.lower()}
    assert leaked == {}, leaked


def test_a_logged_exception_keeps_its_stack_but_not_its_message():
    typed = "tên tôi là " + NAME   # as a resident's text would reach a dictionary lookup
    try:
        {"a": 1}[typed]
    except KeyError as exc:
        text = format_exception_safely(exc)
    assert "KeyError" in text and "test_logs.py" in text
    assert "Zyqwerthanh" not in text


def test_short_strings_are_never_redacted_as_secrets(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", ["a", None, "long-enough-secret"])
        logging.getLogger("bot.test").info("a cat saw long-enough-secret")
        err = capsys.readouterr().err
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert "a cat saw ***" in err
