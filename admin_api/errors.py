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
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.i18n import N_, translator

log = logging.getLogger(__name__)
SOURCES = ("body", "query", "path", "header", "cookie")


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, **params):
        super().__init__(message)
        self.status, self.message, self.field, self.params = status, message, field, params


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


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error_body(exc.status, exc.message, exc.field, **exc.params), exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "type": "value_error", "msg": ""}
        field = "body" if first["type"] == "json_invalid" else field_name(first["loc"])
        if first["type"] == "missing":
            body = error_body(422, N_("{field} is required"), field)
        else:
            body = error_body(422, N_("{field} is not valid: {reason}"), field, reason=first["msg"])
        body["detail"] = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in errors]
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: N_("Not found"), 405: N_("This method is not allowed here"),
                    403: N_("Forbidden"), 400: N_("Bad request"), 503: N_("Not ready yet, try again soon")}
        message = messages.get(exc.status_code, N_("Request failed"))
        field = "body" if exc.status_code == 400 else None  # Starlette could not parse the body
        return JSONResponse(error_body(exc.status_code, message, field), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged by type and path only: the request may carry personal data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return JSONResponse(error_body(500, N_("Something went wrong on our side"), None), 500)
