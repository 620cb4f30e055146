"""The real `hocvuso serve` command in a subprocess, as an operator runs it.

These tests use their own SQLite file (a process, a restart, a shell environment); the
PostgreSQL paths of the same code are covered by the in-process tests.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.config import REPO_ROOT
from bot.db import migrate
from tests.telegram_helpers import act, all_data

HOCVUSO = Path(sys.executable).with_name("hocvuso")
COMMAND = [str(HOCVUSO), "serve"] if HOCVUSO.exists() else [sys.executable, "-m", "bot.cli", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """One `hocvuso serve` process with its output captured in files (no pipe can fill up)."""

    def __init__(self, workdir: Path, name: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path, self.err_path = workdir / f"{name}.out", workdir / f"{name}.err"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "HOCVUSO_"))}
        environ.update({"HOCVUSO_HOST": "127.0.0.1", "HOCVUSO_PORT": str(self.port),
                        "PYTHONUNBUFFERED": "1"})
        environ.update(env)
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(COMMAND, cwd=REPO_ROOT, env=environ, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_healthz(self, telegram: str | None, timeout: float = 30) -> dict:
        """Wait until /healthz answers (with this Telegram state, unless None)."""
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hocvuso serve exited with {self.process.returncode}:\n"
                                     f"{self.stdout}\n{self.stderr}")
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    body = response.json()
                    if telegram is None or body.get("telegram") == telegram:
                        return body
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"/healthz never said telegram={telegram!r} (last: {body}):\n{self.stderr}")

    def terminate(self, timeout: float = 20) -> None:
        """SIGTERM, as systemd or docker stop sends it: a graceful shutdown, then exit."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        # uvicorn shuts down cleanly and then re-raises the signal it caught.
        assert code in (0, -signal.SIGTERM), f"exit code {code}:\n{self.stderr}"
        assert "Application shutdown complete." in self.stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def processes():
    started: list[Serve] = []
    yield started
    for process in started:
        process.kill()


def sqlite_url(tmp_path: Path) -> str:
    """A database made as `make run` makes it: `hocvuso migrate` first (serve never creates one)."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate(url)
    return url


def test_serve_without_telegram_token_runs_the_web_chat(tmp_path, processes):
    serve = Serve(tmp_path, "web", HOCVUSO_DATABASE_URL=sqlite_url(tmp_path))
    processes.append(serve)
    health = serve.wait_healthz("off")
    assert health["ok"] is True and health["telegram"] == "off"
    # Memory (issue 18): what a web chat on SQLite does not use is not loaded at start (these have
    # C extensions, so /proc shows them mapped once imported), and nothing at start raised the
    # peak far above what is kept (argon2's 64 MiB did: by /healthz the peak was still 17 MB above).
    mapped = Path(f"/proc/{serve.process.pid}/maps").read_text()
    for package in ("psycopg_binary", "site-packages/aiohttp/", "site-packages/av/", "av.libs"):
        assert package not in mapped, package
    memory = {line.split(":")[0]: int(line.split()[1]) for line in
              Path(f"/proc/{serve.process.pid}/status").read_text().splitlines() if line.startswith("Vm")}
    assert memory["VmHWM"] - memory["VmRSS"] < 10 * 1024, memory   # kB
    output = serve.stdout + serve.stderr
    assert "Telegram is off" in output
    assert f"{serve.url}/chat" in output

    page = httpx.get(f"{serve.url}/chat", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()

    answer = httpx.post(f"{serve.url}/chat/api/send", json={"session": "s" * 20, "text": "/start"}, timeout=10)
    assert answer.status_code == 200
    assert "Xin chào" in answer.json()["replies"][0]["text"]
    serve.terminate()


async def test_serve_with_telegram_keeps_progress_across_a_restart(tmp_path, processes, fake_api):
    chat = 4401
    env = {"HOCVUSO_DATABASE_URL": sqlite_url(tmp_path), "TELEGRAM_BOT_TOKEN": fake_api.token,
           "TELEGRAM_API_URL": fake_api.url, "HOCVUSO_LOG_LEVEL": "DEBUG"}

    first = Serve(tmp_path, "first", **env)
    processes.append(first)
    assert first.wait_healthz("ready")["telegram"] == "ready"
    await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start"), 2, timeout=15)
    assert "Xin chào" in fake_api.chat(chat)[0].text
    await act(fake_api, chat, lambda: fake_api.press(chat, "c:y"), 2, timeout=15)
    for data in ("ps:v", "ps:g", "ps:a", "o:vneid", "s:vneid:1", "s:vneid:2"):
        await act(fake_api, chat, lambda data=data: fake_api.press(chat, data), 1, timeout=15)
    assert "Bước 3/" in fake_api.last(chat).text
    first.terminate()

    second = Serve(tmp_path, "second", **env)
    processes.append(second)
    second.wait_healthz("ready")
    await act(fake_api, chat, lambda: fake_api.send_text(chat, "/menu"), 1, timeout=15)
    menu = fake_api.last(chat)
    label, data = menu.buttons[0][0]
    assert label.startswith("▶️ Học tiếp: ") and label.endswith("(3/11)")
    assert data == "s:vneid:2" and "o:vneid" in all_data(menu)
    await act(fake_api, chat, lambda: fake_api.press(chat, data), 1, timeout=15)
    assert "Bước 3/11" in fake_api.last(chat).text
    second.terminate()

    # The bot token is a password: it must never reach the logs, even at DEBUG level.
    output = first.stdout + first.stderr + second.stdout + second.stderr
    assert "Telegram: long polling" in output  # the log was captured at all
    secret_part = fake_api.token.split(":", 1)[1]
    assert fake_api.token not in output
    assert secret_part not in output


def test_serve_refuses_broken_content_and_names_file_and_line(tmp_path, processes):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO_ROOT / "knowledge", knowledge)
    course = knowledge / "vi" / "courses" / "vneid.yaml"
    lines = course.read_text(encoding="utf-8").splitlines(keepends=True)
    text_key = next(i for i, line in enumerate(lines) if line.strip() == "text: |")  # the first step's
    indent = " " * (len(lines[text_key + 1]) - len(lines[text_key + 1].lstrip()))
    lines.insert(text_key + 1, indent + "Quá dài. " * 100 + "\n")  # 900 characters, limit is 700
    course.write_text("".join(lines), encoding="utf-8")

    serve = Serve(tmp_path, "broken", HOCVUSO_DATABASE_URL=sqlite_url(tmp_path),
                  HOCVUSO_KNOWLEDGE_DIR=str(knowledge))
    processes.append(serve)
    assert serve.process.wait(timeout=30) == 2
    assert f"vneid.yaml:{text_key + 1}" in serve.stderr
    assert "steps.0.text" in serve.stderr
    assert "hocvuso is running" not in serve.stdout


def test_rejected_token_keeps_the_web_chat_and_reports_telegram_off(tmp_path, processes, fake_api):
    wrong_token = "999999:WRONG-secret-token-value"
    serve = Serve(tmp_path, "rejected", HOCVUSO_DATABASE_URL=sqlite_url(tmp_path),
                  TELEGRAM_BOT_TOKEN=wrong_token, TELEGRAM_API_URL=fake_api.url, HOCVUSO_LOG_LEVEL="DEBUG")
    processes.append(serve)
    assert serve.wait_healthz(None)["telegram"] in ("connecting", "off")
    deadline = time.monotonic() + 15
    while "TELEGRAM_BOT_TOKEN was rejected" not in serve.stderr:
        assert time.monotonic() < deadline, serve.stderr
        time.sleep(0.05)
    assert "Telegram is off" in serve.stderr
    # The web chat keeps working.
    answer = httpx.post(f"{serve.url}/chat/api/send", json={"session": "r" * 20, "text": "/start"}, timeout=10)
    assert "Xin chào" in answer.json()["replies"][0]["text"]
    health = httpx.get(f"{serve.url}/healthz", timeout=5).json()
    serve.terminate()
    assert wrong_token.split(":", 1)[1] not in serve.stdout + serve.stderr
    # Telegram has given up, so the health check must not keep saying "connecting".
    assert health["ok"] is True and health["telegram"] == "off"


def test_a_second_server_on_the_same_sqlite_file_refuses_to_start(tmp_path, processes):
    """Both would lead: every broadcast sent twice. The second names the file and the first."""
    url = sqlite_url(tmp_path)
    first = Serve(tmp_path, "first", HOCVUSO_DATABASE_URL=url)
    processes.append(first)
    assert first.wait_healthz("off")["leader"] is True
    second = Serve(tmp_path, "second", HOCVUSO_DATABASE_URL=url)
    processes.append(second)
    assert second.process.wait(timeout=30) == 2
    assert str(tmp_path / "serve.db") in second.stderr
    assert f"pid {first.process.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    # After a kill -9 the kernel drops the lock: a new server starts at once.
    first.kill()
    third = Serve(tmp_path, "third", HOCVUSO_DATABASE_URL=url)
    processes.append(third)
    assert third.wait_healthz("off")["ok"] is True
    third.terminate()
