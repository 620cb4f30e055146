"""The sender inside real `hocvuso serve` processes: a kill -9 mid-broadcast and a restart, and,
on PostgreSQL, two processes where only the leader sends and the other takes over."""
from __future__ import annotations

import time

import httpx
import pytest

from bot.delivery import window_for
from tests.conftest import POSTGRES_URL
from tests.test_delivery import add_residents, queue_broadcast, statuses
from tests.test_serve_process import Serve, processes  # noqa: F401 - the fixture

RATE = 20


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def serve(tmp_path, processes, database_url, fake_api, name: str, **env) -> Serve:  # noqa: F811
    process = Serve(tmp_path, name, HOCVUSO_DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=fake_api.token,
                    TELEGRAM_API_URL=fake_api.url, HOCVUSO_SEND_RATE=str(RATE), **env)
    processes.append(process)
    return process


def test_kill_9_mid_broadcast_loses_nothing(tmp_path, processes, database_url, sessions, fake_api):  # noqa: F811
    chats = add_residents(sessions, 60)
    fake_api.global_rate, fake_api.per_chat_interval = 30, 1.0
    first = serve(tmp_path, processes, database_url, fake_api, "first")
    first.wait_healthz("ready")
    queue_broadcast(sessions)
    wait_until(lambda: len(fake_api.sent) >= 15, 30, "15 messages")
    first.kill()  # SIGKILL: no shutdown, in-flight rows stay "sending"
    second = serve(tmp_path, processes, database_url, fake_api, "second")
    second.wait_healthz("ready")
    wait_until(lambda: statuses(sessions) == {"sent": 60}, 60, "every message sent")
    assert {r.chat_id for r in fake_api.sent} == set(chats)                        # nothing lost
    assert sum(n - 1 for n in fake_api.duplicates().values()) <= window_for(RATE)  # the in-flight window
    assert fake_api.rate_limited == 0


# Several processes are a PostgreSQL deployment (SQLite runs one), so this test exists where
# HOCVUSO_TEST_POSTGRES_URL is set, as in CI.
@pytest.mark.parametrize("database_url", ["postgresql"] if POSTGRES_URL else ["sqlite"], indirect=True)
def test_two_processes_on_postgresql_one_leads_and_the_other_takes_over(tmp_path, processes, database_url,  # noqa: F811
                                                                        sessions, fake_api):
    if not database_url.startswith("postgresql"):
        # Without PostgreSQL, check what still holds: one SQLite process always leads.
        only = serve(tmp_path, processes, database_url, fake_api, "only")
        only.wait_healthz("ready")
        wait_until(lambda: httpx.get(f"{only.url}/healthz").json()["leader"], 15, "the process to lead")
        return
    chats = add_residents(sessions, 80)
    fake_api.global_rate, fake_api.per_chat_interval = 30, 1.0
    webhook = {"TELEGRAM_WEBHOOK_SECRET": "s3cret_for_two_processes"}
    a = serve(tmp_path, processes, database_url, fake_api, "a", TELEGRAM_WEBHOOK_URL="https://a.example/tg", **webhook)
    a.wait_healthz("ready")
    wait_until(lambda: httpx.get(f"{a.url}/healthz").json()["leader"], 15, "a to lead")
    b = serve(tmp_path, processes, database_url, fake_api, "b", TELEGRAM_WEBHOOK_URL="https://b.example/tg", **webhook)
    assert b.wait_healthz("ready")["leader"] is False
    queue_broadcast(sessions)
    wait_until(lambda: len(fake_api.sent) >= 20, 30, "20 messages")
    assert httpx.get(f"{b.url}/healthz").json()["leader"] is False
    a.kill()
    killed_at = time.monotonic()
    wait_until(lambda: httpx.get(f"{b.url}/healthz").json()["leader"], 30, "b to take over")
    assert time.monotonic() - killed_at <= 30
    wait_until(lambda: statuses(sessions) == {"sent": 80}, 60, "every message sent")
    assert {r.chat_id for r in fake_api.sent} == set(chats)
    assert sum(n - 1 for n in fake_api.duplicates().values()) <= window_for(RATE)
    assert fake_api.rate_limited == 0
