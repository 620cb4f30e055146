"""Signing in to the officials' console (/admin) in tests, over real HTTP (tests.http_helpers):

    with console_server(create_app(settings_for(), assistant), sessions) as console:
        client, csrf = console.signed_in("village", "kv-tong-lanh")
        client.post("/admin/...", data={"csrf": csrf, ...})

Each signed-in client is a browser of its own (its own cookies), for a new account of that role.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.http_helpers import serving

PASSWORD = "a-long-test-password"
_users = itertools.count(1)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def with_console(app):
    """The app with the console (bot.web.create_app installs it; added here only if it did not)."""
    if not any(getattr(route, "path", "") == "/admin/login" for route in app.routes):
        from console import install_console
        install_console(app)
    return app


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf token in the page"
    return match.group(1)


def make_official(sessions, role: str = "admin", village: str | None = None) -> str:
    """A console account; returns its username (the password is PASSWORD)."""
    from console.security import create_user
    username = f"{role}-{village or 'all'}-{next(_users)}"
    with sessions() as session:
        create_user(session, username, PASSWORD, role, village)
        session.commit()
    return username


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Signs the client in through the form, as a browser does; returns the session's CSRF token."""
    form = client.get("/admin/login")
    assert form.status_code == 200, form.text
    token = _LOGIN_TOKEN.search(form.text).group(1)
    assert client.cookies.get("hvs_login") == token
    done = client.post("/admin/login", data={"username": username, "password": password, "login_token": token,
                                             "next": "/admin"})
    assert done.status_code == 303, done.text
    assert client.cookies.get("hvs_console"), "no session cookie after signing in"
    landing = client.get(done.headers["location"])
    assert landing.status_code == 200, landing.text
    return csrf_of(landing.text)


class ConsoleServer:
    def __init__(self, base_url: str, sessions):
        self.base_url, self.sessions = base_url, sessions
        self._clients: list[httpx.Client] = []

    def browser(self) -> httpx.Client:
        """A client with no cookies yet (not signed in)."""
        client = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)
        self._clients.append(client)
        return client

    def signed_in(self, role: str = "admin", village: str | None = None) -> tuple[httpx.Client, str]:
        """A new browser signed in as a new official of that role (and village), and its CSRF token."""
        client = self.browser()
        return client, sign_in(client, make_official(self.sessions, role, village))

    def close(self) -> None:
        for client in self._clients:
            client.close()


@contextmanager
def console_server(app, sessions) -> Iterator[ConsoleServer]:
    with serving(with_console(app)) as client:
        server = ConsoleServer(str(client.base_url), sessions)
        try:
            yield server
        finally:
            server.close()


def signed_in_client(console: ConsoleServer, role: str = "admin",
                     village: str | None = None) -> tuple[httpx.Client, str]:
    return console.signed_in(role, village)
