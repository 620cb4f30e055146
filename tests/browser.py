"""Fixtures for browser tests: Playwright (the PyPI package) driving Debian's Chromium.

Playwright's own browser downloads are never used (no `playwright install`: .ci/run installs the
`chromium` package from Debian). One browser for the whole session; a fresh context (cookies,
storage, cache) per page, each with a route that aborts and records every request to a host
other than this machine, so a test can assert that the page works with no internet.

The sync API cannot run inside a running asyncio loop: browser tests are plain `def` tests (with
pytest-asyncio in auto mode those run outside any loop), and the app runs on uvicorn in a thread.

    pytestmark = sqlite_only

    def test_chat_on_a_phone(serve_app, phone_page, off_server_requests, screenshot):
        phone_page.goto(serve_app() + "/")
        phone_page.get_by_role("textbox").fill("xin chào")
        screenshot(phone_page, "chat-phone")
        assert off_server_requests == []
"""
from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.config import REPO_ROOT
from tests.background_server import serve_in_thread

CHROMIUM = Path(os.environ.get("HOCVUSO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"

# Browser tests check what the browser gets from the server and does with it (pages, scripts,
# requests); the storage behind the API is the same code either way, and the in-process tests
# already run it on SQLite and PostgreSQL. A second browser pass on PostgreSQL would double the
# slowest tests for no new coverage, so a browser test module pins SQLite with
# `pytestmark = sqlite_only` (it overrides the params of conftest's `database_url` fixture, so
# every test of the module must use the database, directly or through settings_for/serve_app).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS


class Session:
    """Playwright's sync API runs its asyncio loop in a greenlet and, between two calls, leaves
    that loop marked as this thread's running loop (playwright/_impl/_greenlets.py). Left so,
    every later async test and asyncio.run() of the session fails ("Cannot run the event loop
    while another loop is running"). So the mark is only there while a browser test runs:
    `turn()` puts it back for the test and clears it after."""

    def __init__(self):
        from playwright.sync_api import sync_playwright
        self.playwright = sync_playwright().start()
        self.loop = asyncio._get_running_loop()  # Playwright's own loop, marked as running
        try:
            self.browser = self.playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                           args=CHROMIUM_ARGS)
        except BaseException:
            self.stop()
            raise
        finally:
            asyncio._set_running_loop(None)

    @contextmanager
    def turn(self):
        asyncio._set_running_loop(self.loop)
        try:
            yield self.browser
        finally:
            asyncio._set_running_loop(None)

    def stop(self) -> None:
        asyncio._set_running_loop(self.loop)
        try:
            self.playwright.stop()  # closes the browser too
        finally:
            asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def browser_session():
    """One Chromium for the whole session (launched on first use, about 1.5 s). Fails, not skips,
    when Chromium is missing: a skipped browser test would hide a feature nobody checked."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                    "(`apt-get install chromium`; .ci/run installs it). Playwright's own browsers "
                    "are not used. HOCVUSO_CHROMIUM=/path/to/chromium picks another binary.",
                    pytrace=False)
    session = Session()
    yield session
    session.stop()


@pytest.fixture
def chromium(request, browser_session):
    """The session's headless Chromium (a playwright.sync_api.Browser), for this test."""
    if inspect.iscoroutinefunction(request.function) or asyncio._get_running_loop() is not None:
        pytest.fail("Playwright's sync API cannot run inside an asyncio loop: make the browser test a "
                    "plain `def` test", pytrace=False)
    with browser_session.turn() as browser:
        yield browser


@pytest.fixture
def off_server_requests() -> list[str]:
    """The URLs every page of this test tried to reach off this machine (each request, or web
    socket, was aborted). `assert off_server_requests == []` after the page has done its work."""
    return []


@pytest.fixture
def browser_page(chromium, off_server_requests) -> Iterator[Callable[..., object]]:
    """Factory: `browser_page(width, height, phone=False, **context_options)` opens a page in a
    new browser context, closed after the test. A phone context is a touch screen with
    device_scale_factor 2. Contexts are in Vietnamese (vi-VN) on the commune's clock; options
    given here (locale=..., timezone_id=...) win. Service workers are blocked, so the route sees
    every request."""
    contexts = []

    def route(route) -> None:
        if is_local(route.request.url):
            route.fallback()
        else:
            off_server_requests.append(route.request.url)
            route.abort("blockedbyclient")

    def refuse_socket(socket) -> None:  # only web sockets off this machine are routed here
        off_server_requests.append(socket.url)
        socket.close()

    def open_page(width: int, height: int, *, phone: bool = False, **context_options):
        options = dict(viewport={"width": width, "height": height}, screen={"width": width, "height": height},
                       device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone,
                       service_workers="block", locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
        options.update(context_options)
        context = chromium.new_context(**options)
        contexts.append(context)
        context.set_default_timeout(15_000)
        context.route("**/*", route)
        context.route_web_socket(lambda url: not is_local(url), refuse_socket)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def phone_page(browser_page):
    """A page on a 360×740 touch phone (device_scale_factor 2)."""
    return browser_page(PHONE["width"], PHONE["height"], phone=True)


@pytest.fixture
def desktop_page(browser_page):
    """A page on a 1280×800 desktop screen."""
    return browser_page(DESKTOP["width"], DESKTOP["height"])


@pytest.fixture
def serve_app(settings_for, assistant) -> Iterator[Callable[..., str]]:
    """Factory: `serve_app(public=False, **env)` runs the real app (bot.web.create_app, settings from
    settings_for(**env), the test's assistant and database) on uvicorn in a thread, on a free
    port, and returns its base URL (http://127.0.0.1:PORT). Stopped after the test."""
    from bot.web import create_app
    running = []

    def serve(*, public: bool = False, **env: str) -> str:
        """public=True: HOCVUSO_PUBLIC_URL is the app's own address (web share links, Web Push)."""
        def app(port: int):
            address = {"HOCVUSO_PUBLIC_URL": f"http://127.0.0.1:{port}"} if public else {}
            return create_app(settings_for(**address, **env), assistant)
        server, thread, port = serve_in_thread(app, "browser-test-app")
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def screenshot(tmp_path) -> Callable[..., Path]:
    """`screenshot(page, name, full_page=False)` saves <name>.png into docs/screenshots/ when
    HOCVUSO_SCREENSHOTS=1 (to refresh the docs' pictures), else into the test's tmp_path (so a
    CI run rewrites nothing); returns the path."""
    def take(page, name: str, *, full_page: bool = False) -> Path:
        folder = SCREENSHOTS if os.environ.get("HOCVUSO_SCREENSHOTS") == "1" else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=full_page, animations="disabled", caret="hide")
        return path
    return take
