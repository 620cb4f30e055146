"""Logging set-up: no personal data and no tokens in logs, at any level.

- HOCVUSO_LOG_LEVEL applies to this project's own loggers, whose messages carry ids, counts
  and error types, never what residents typed, their names or chat ids.
- Libraries log at WARNING and above only: at DEBUG, python-telegram-bot prints every update
  and every sent message, httpx every URL (which holds the bot token), uvicorn client addresses.
- A logged exception keeps its stack but not its message: messages may quote data (a SQL
  error its parameters, a KeyError the key a resident typed).
- The bot token, the admin token and the webhook secret are replaced by *** wherever they appear.
"""
from __future__ import annotations

import logging
import traceback

OWN_LOGGERS = ("bot", "admin_api", "hocvuso")
# Library loggers whose INFO is safe and useful to an operator (start-up, shutdown).
INFO_LOGGERS = ("uvicorn.error",)
NOISY = ("telegram", "httpx", "httpcore", "aiohttp", "apscheduler", "alembic", "sqlalchemy", "asyncio", "psycopg",
         "uvicorn", "fastapi", "starlette", "multipart", "python_multipart", "urllib3", "hpack")
SECRET_MIN = 8   # shorter "secrets" are refused by the settings; never redact single letters


def _is_own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


class LibraryQuiet(logging.Filter):
    """Below WARNING, only this project's records (and a few safe library ones) pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or _is_own(record.name):
            return True
        return record.levelno >= logging.INFO and record.name in INFO_LOGGERS


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str | None]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= SECRET_MIN]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class SafeFormatter(logging.Formatter):
    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return format_exception_safely(ei[1])


def format_exception_safely(exc: BaseException | None) -> str:
    """The traceback of exc and of the exceptions it came from, each with its type but not its
    message."""
    blocks: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kind = type(exc)
        blocks.append("Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__))
                      + f"{kind.__module__}.{kind.__qualname__}: (message not logged)")
        exc = exc.__cause__ or exc.__context__
    return "\n\nwhile handling it, or caused by:\n".join(reversed(blocks))


def setup_logging(level: str, secrets: list[str | None]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(LibraryQuiet())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Not even formatted: PTB builds the text of every update at DEBUG, which costs CPU too.
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in INFO_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
