"""Every 4xx is JSON that names the field, in Vietnamese and English:

    {"error": {"status": 422, "field": "audience.villages",
               "message": {"vi": "...", "en": "..."}},
     "detail": [...]}          # validation errors only: FastAPI's usual list, for tools

Messages are English msgids translated through the Babel catalog, like every UI string.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.i18n import N_, translator
from bot.storage import is_disk_full, is_unavailable

log = logging.getLogger(__name__)
SOURCES = ("body", "query", "path", "header", "cookie")
# FastAPI answers 400 when a JSON body cannot even be decoded: bytes that are not UTF-8, or nesting
# deeper than the parser's recursion limit. That is invalid JSON all the same (RFC 8259 wants
# UTF-8), so it gets the answer any other invalid JSON gets: a 422 naming "body", which every
# route with a JSON body documents.
UNDECODABLE_JSON = (UnicodeDecodeError, RecursionError)


STORAGE_UNAVAILABLE = N_("The server cannot save anything right now. Nothing was saved; please try again "
                         "later, or tell the commune's IT officer.")
DISK_FULL = N_("The server's disk is full, so nothing was saved. Please tell the commune's IT officer.")


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None, **params):
        super().__init__(message)
        self.status, self.message, self.field, self.params = status, message, field, params
        self.headers = headers


def error_body(status: int, message: str, field: str | None, **params) -> dict:
    vi = translator("vi")(message)
    return {"error": {"status": status, "field": field,
                      "message": {"vi": vi.format(field=field, **params),
                                  "en": message.format(field=field, **params)}}}


def field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in SOURCES:
        parts = parts[1:]
    return ".".join(parts) or "body"


def invalid_input(errors: list[dict]) -> JSONResponse:
    """422: the first error names the field; ``detail`` keeps FastAPI's usual list, for tools."""
    first = errors[0] if errors else {"loc": ("body",), "type": "value_error", "msg": ""}
    field = "body" if first["type"] == "json_invalid" else field_name(first["loc"])
    if first["type"] == "missing":
        body = error_body(422, N_("{field} is required"), field)
    else:
        body = error_body(422, N_("{field} is not valid: {reason}"), field, reason=first["msg"])
    body["detail"] = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in errors]
    return JSONResponse(body, 422)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else exc.headers
        return JSONResponse(error_body(exc.status, exc.message, exc.field, **exc.params), exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_input(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UNDECODABLE_JSON):
            return invalid_input([{"loc": ("body",), "type": "json_invalid", "msg": "JSON decode error"}])
        messages = {404: N_("Not found"), 405: N_("This method is not allowed here"),
                    403: N_("Forbidden"), 400: N_("Bad request"), 503: N_("Not ready yet, try again soon")}
        message = messages.get(exc.status_code, N_("Request failed"))
        field = "body" if exc.status_code == 400 else None  # Starlette could not parse the body
        return JSONResponse(error_body(exc.status_code, message, field), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not is_unavailable(exc):
            return await unexpected(request, exc)
        # The database is down, read-only or full: say so, and let /healthz say so too.
        storage = getattr(request.app.state, "storage", None)
        if storage is not None:
            storage.note_failure(exc)
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
        message = DISK_FULL if is_disk_full(exc) else STORAGE_UNAVAILABLE
        return JSONResponse(error_body(503, message, None), 503, headers={"Retry-After": "60"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged by type and path only: the request may carry personal data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return JSONResponse(error_body(500, N_("Something went wrong on our side"), None), 500)
