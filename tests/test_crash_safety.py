"""An update Telegram got a 200 for is never lost: a real `hocvuso serve` in webhook mode is
killed with kill -9 while a burst is still being handled, and the next start handles the rest."""
from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import func, select

from bot.db import make_engine, make_sessionmaker
from bot.models import InboxUpdate, ProcessedUpdate
from tests.test_serve_process import Serve, processes, sqlite_url  # noqa: F401 - the fixture
from tests.test_webhook import SECRET, SECRET_HEADER, WEBHOOK_URL, start_update

BURST = 300


def counts(sessions) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(ProcessedUpdate)),
                session.scalar(select(func.count()).select_from(InboxUpdate)))


async def post_burst(url: str, first_update: int) -> list[int]:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def post(i: int) -> int:
            answer = await client.post(f"{url}/telegram/webhook", json=start_update(first_update + i, 880_000 + i),
                                       headers={SECRET_HEADER: SECRET})
            return answer.status_code
        return await asyncio.gather(*(post(i) for i in range(BURST)))


async def test_acknowledged_webhook_updates_survive_kill_9(tmp_path, processes, fake_api):  # noqa: F811
    # A Bot API as slow as on a weak link, and few sends a second: the bot takes 256 updates at once
    # (bot/channels/telegram/inbound.py), and the rest wait for their replies to go. So handling
    # lags well behind the 200s, however fast this machine handles the core's part.
    fake_api.send_delay = 0.25
    url = sqlite_url(tmp_path)
    sessions = make_sessionmaker(make_engine(url))
    env = {"HOCVUSO_DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.url,
           "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL, "TELEGRAM_WEBHOOK_SECRET": SECRET, "HOCVUSO_SEND_RATE": "5"}
    first = Serve(tmp_path, "first", **env)
    processes.append(first)
    first.wait_healthz("ready")
    statuses = await post_burst(first.url, 50_000)
    first.kill()   # SIGKILL right after the last 200: no shutdown at all
    assert statuses == [200] * BURST
    handled, waiting = counts(sessions)
    assert waiting > 0 and handled + waiting == BURST, (handled, waiting)   # the crash did cut in

    second = Serve(tmp_path, "second", **env)
    processes.append(second)
    second.wait_healthz("ready")
    deadline = time.monotonic() + 60
    while counts(sessions) != (BURST, 0):
        assert time.monotonic() < deadline, f"not every update was handled: {counts(sessions)}"
        await asyncio.sleep(0.1)
    # The residents whose /start was still waiting at the kill get their greeting after the restart.
    with sessions() as session:
        before = set(session.scalars(select(ProcessedUpdate.update_id).order_by(ProcessedUpdate.processed_at)
                                     .limit(handled)))
    late_chats = [880_000 + i for i in range(BURST) if 50_000 + i not in before]
    assert late_chats
    await fake_api.wait_for(lambda: all(any("Xin chào" in m.text for m in fake_api.chat(chat))
                                        for chat in late_chats), timeout=60)
    second.terminate()
