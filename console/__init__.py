"""The officials' web console at /admin: progress at a glance, broadcasts, events, villages and
targets, ambassadors, unanswered questions and the reports, in Vietnamese, without curl.

Server-rendered pages (Jinja2) with one small script; every asset is served by the app. Each
page calls the admin API's own functions with the official's role and village, so the console
can do exactly what the official's API token could, no more.
"""
from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from urllib.parse import quote

from console.web import HERE, FormExpired, NotAllowed, SignInNeeded, _, page

PREFIX = "/admin"
# Pages carry no inline script or style, so the policy can forbid both: an injected <script>
# in a resident's question shown on a page would not run.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def install_console(app: FastAPI) -> None:
    import console.pages

    # Every module of console/pages is a page with its own router: a new page is a new file.
    for info in pkgutil.iter_modules(console.pages.__path__):
        module = importlib.import_module(f"console.pages.{info.name}")
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.middleware("http")
    async def console_headers(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith(PREFIX):
            response.headers.update(SECURITY_HEADERS)
            if not request.url.path.startswith(f"{PREFIX}/static"):
                response.headers["cache-control"] = "no-store"   # figures and forms are never cached
        return response

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, exc: SignInNeeded):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)

    @app.exception_handler(FormExpired)
    async def form_expired(request: Request, exc: FormExpired):
        return page(request, "error.html", None, status_code=403,
                    problem=_("This form has expired. Please reload the page and try again."))

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed):
        return page(request, "error.html", None, status_code=403,
                    problem=_("Your account may not open this page."))
