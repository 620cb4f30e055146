"""/docs (Swagger UI) and /redoc with no internet: their scripts, styles and favicon are served by
the app itself, from the `static/` folder of the pinned `fastapi-offline` package, instead of
FastAPI's defaults on cdn.jsdelivr.net, fastapi.tiangolo.com and fonts.googleapis.com. A commune
PC with no internet access (or a captive one) gets working API docs.

The app must be created with `docs_url=None, redoc_url=None` so that FastAPI does not add its own
CDN pages first; `install_docs(app)` then adds /docs, /docs/oauth2-redirect and /redoc.
"""
from __future__ import annotations

import os
from importlib.metadata import version
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
# The package's version is in the path: the files behind a URL never change, so browsers may keep
# them for a year without asking (1.5 MB + 1 MB; a slow commune link pays for them once), and an
# upgrade of the pinned package changes the URL.
ASSETS_URL = f"/api-docs-assets/{version('fastapi-offline')}"
SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js",
                                              "favicon.png")
CACHE_CONTROL = "public, max-age=31536000, immutable"
# ReDoc's side menu always shows Redocly's logo from cdn.redoc.ly (no option turns it off; the image
# hides itself when it fails to load). This policy keeps the browser from asking at all, and from
# loading images, fonts or data from elsewhere (a picture in an operation's description, say).
CONTENT_SECURITY_POLICY = "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'"


def assets_dir() -> str:
    """The `static/` folder of the installed fastapi_offline package (a real directory: pip installs
    the package unzipped, and StaticFiles needs a path)."""
    return os.fspath(files("fastapi_offline") / "static")


class CachedStaticFiles(StaticFiles):
    """StaticFiles gives ETag and Last-Modified (and 304 on If-None-Match / If-Modified-Since), but
    no Cache-Control, so a browser revalidates each time. Files found (200, or 304, which keeps the
    header) get a long max-age; a 404 does not."""

    def file_response(self, full_path: os.PathLike | str, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def no_elsewhere(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def install_docs(app: FastAPI) -> None:
    """Add /docs (with Swagger UI's OAuth2 redirect page, as FastAPI's default does) and /redoc,
    and mount their assets at ASSETS_URL. Honours the app's openapi_url, swagger_ui_parameters,
    swagger_ui_init_oauth and swagger_ui_oauth2_redirect_url, and the ASGI root_path."""
    if app.docs_url or app.redoc_url:
        raise RuntimeError("create the app with docs_url=None, redoc_url=None: its own /docs and /redoc "
                           "load Swagger UI and ReDoc from a CDN")
    if not app.openapi_url:
        return
    app.mount(ASSETS_URL, CachedStaticFiles(directory=assets_dir()), name="api-docs-assets")
    # Swagger UI's default shows a badge loaded from validator.swagger.io whenever the spec's URL
    # does not contain "localhost" or "127.0.0.1" (so: on every commune PC reaching the server by
    # its LAN address); null switches it off.
    swagger_parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    def root(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        return no_elsewhere(get_swagger_ui_html(
            openapi_url=prefix + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{prefix}{ASSETS_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{prefix}{ASSETS_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{prefix}{ASSETS_URL}/{FAVICON}",
            oauth2_redirect_url=prefix + oauth2_redirect_url if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        ))

    if oauth2_redirect_url:
        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        return no_elsewhere(get_redoc_html(
            openapi_url=prefix + app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{prefix}{ASSETS_URL}/{FAVICON}",
            with_google_fonts=False,  # fonts.googleapis.com: ReDoc falls back to the system's fonts
        ))
