"""/docs (Swagger UI) and /redoc work on a PC with no internet: every script, style, font and
image comes from the app itself (bot/api_docs.py), checked in a real browser that aborts (and
records) any request off this machine, and in the HTML and asset responses over HTTP."""
from __future__ import annotations

import re

import httpx
import pytest

from bot.api_docs import ASSETS_URL, CACHE_CONTROL
from bot.web import create_app
from tests.browser import sqlite_only
from tests.http_helpers import serving

pytestmark = sqlite_only  # the pages do not depend on the database engine (see tests/browser.py)

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(schema: dict) -> int:
    return sum(method in METHODS for path in schema["paths"].values() for method in path)


def open_docs(page, url: str) -> list[str]:
    """Go to `url`, collecting the page's uncaught script errors."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return errors


def test_swagger_ui_shows_every_operation_with_no_internet(serve_app, desktop_page, off_server_requests,
                                                          screenshot):
    url = serve_app()
    schema = httpx.get(f"{url}/openapi.json").json()
    errors = open_docs(desktop_page, f"{url}/docs")
    desktop_page.locator(".opblock").first.wait_for()
    assert desktop_page.locator(".opblock").count() == operations(schema) > 10
    assert desktop_page.locator(".info .title").inner_text().startswith(schema["info"]["title"])
    assert desktop_page.locator(".opblock-summary-path", has_text="/api/v1/").count() > 0
    screenshot(desktop_page, "api-docs-swagger")
    assert errors == []
    assert off_server_requests == []


def test_redoc_shows_the_api_with_no_internet(serve_app, desktop_page, off_server_requests, screenshot):
    url = serve_app()
    schema = httpx.get(f"{url}/openapi.json").json()
    errors = open_docs(desktop_page, f"{url}/redoc")
    title = desktop_page.locator("h1", has_text=schema["info"]["title"])
    title.wait_for()
    assert schema["info"]["version"] in title.inner_text()
    assert desktop_page.locator('li[data-item-id*="/operation/"]').count() == operations(schema)
    screenshot(desktop_page, "api-docs-redoc")
    assert errors == []
    # Without the page's Content-Security-Policy, ReDoc's menu would ask cdn.redoc.ly for a logo.
    assert off_server_requests == []


@pytest.fixture
def client(settings_for, assistant):
    with serving(create_app(settings_for(), assistant)) as client:
        yield client


ASSETS = {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css", "redoc.standalone.js": "javascript",
          "favicon.png": "image/png"}


def test_the_pages_load_nothing_from_elsewhere(client):
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        assert not re.search(r"https?://", html), html
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
        assert f"{ASSETS_URL}/{asset}" in links and f"{ASSETS_URL}/favicon.png" in links
        assert all(link.startswith("/") and not link.startswith("//") for link in links), links
        assert "img-src 'self'" in response.headers["content-security-policy"]
    assert '"validatorUrl": null' in client.get("/docs").text  # no badge from validator.swagger.io
    redirect = client.get("/docs/oauth2-redirect")  # Swagger UI's OAuth2 page, as FastAPI's default
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()
    assert client.get("/openapi.json").status_code == 200


def test_the_assets_are_served_and_cached(client):
    for name, kind in ASSETS.items():
        response = client.get(f"{ASSETS_URL}/{name}")
        assert response.status_code == 200, name
        assert kind in response.headers["content-type"], (name, response.headers["content-type"])
        assert len(response.content) > 1000
        if name.endswith((".js", ".css")):         # 2.5 MB of script travels compressed on weak signal
            assert response.headers["content-encoding"] == "gzip", name
        assert response.headers["cache-control"] == CACHE_CONTROL
        assert response.headers["etag"] and response.headers["last-modified"]
        again = client.get(f"{ASSETS_URL}/{name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == CACHE_CONTROL
    missing = client.get(f"{ASSETS_URL}/nothing.js")
    assert missing.status_code == 404 and "cache-control" not in missing.headers
