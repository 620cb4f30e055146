"""Driving `hocvuso serve`'s app as a Zalo resident would, through the fake Zalo Bot API."""
from __future__ import annotations

import re
import time
from contextlib import contextmanager

import httpx

from bot.web import create_app
from tests.fakezalo import FakeZalo
from tests.http_helpers import serving

CHOICE = re.compile(r"(?<!\S)([0-9A-Z]{1,3}) – ([^·\n]+)")
SETTLE_SECONDS = 0.4
EXTRA_SECONDS = 0.15     # more than the pause between two replies at ZALO_SEND_RATE's default 10/s


def zalo_env(fake: FakeZalo, **env: str) -> dict[str, str]:
    return {"ZALO_BOT_TOKEN": fake.token, "ZALO_API_URL": fake.url, **env}


def wait_zalo_ready(client: httpx.Client, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get("/healthz").json()
        if body.get("channels", {}).get("zalo") == "ready":
            return body
        time.sleep(0.02)
    raise TimeoutError(f"Zalo never became ready: {body}")


@contextmanager
def zalo_app(settings, assistant):
    """The whole app (channels, leader, admin API) on uvicorn, Zalo ready."""
    with serving(create_app(settings, assistant)) as client:
        wait_zalo_ready(client)
        yield client


def settle(fake: FakeZalo, chat: str, at_least: int, timeout: float = 15) -> None:
    """Wait until the chat has `at_least` messages in all, then until no more arrive for a moment."""
    fake.wait_for_sync(lambda: fake.reply_count(chat) >= at_least, timeout)
    count = fake.reply_count(chat)
    while True:
        time.sleep(SETTLE_SECONDS)
        if fake.reply_count(chat) == count:
            return
        count = fake.reply_count(chat)


def say(fake: FakeZalo, chat: str, text: str, replies: int = 1, name: str = "Lan") -> list[str]:
    """The resident types `text`; returns the `replies` messages the bot sent back (and checks
    that no more follow)."""
    before = fake.reply_count(chat)
    fake.send_text(chat, text, name=name)
    fake.wait_for_sync(lambda: fake.reply_count(chat) >= before + replies, 15)
    time.sleep(EXTRA_SECONDS)   # one message more than expected would arrive by now
    texts = fake.texts(chat)[before:]
    assert len(texts) == replies, texts
    return texts


def choices(text: str) -> dict[str, str]:
    """The choices a message offers: key -> label."""
    return {key: label.strip() for key, label in CHOICE.findall(text)}


def key_for(text: str, label_part: str) -> str:
    """The key to type for the choice whose label contains `label_part`."""
    found = [key for key, label in choices(text).items() if label_part.lower() in label.lower()]
    assert found, f"no choice with {label_part!r} in:\n{text}"
    return found[0]
