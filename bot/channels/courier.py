"""What the outbox sender asks of a channel, and the neutral outcomes a channel answers with.

As in RapidPro's courier, the sender (bot/delivery.py) knows no platform: a channel renders a
message for its platform and sends it, and maps whatever the platform answered (an HTTP status,
an error code, an exception of its SDK) to one of five outcomes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot.replies import Button


class Result(StrEnum):
    SENT = "sent"
    STOPPED = "stopped"         # the resident blocked the bot or left: no retry, resident inactive
    THROTTLED = "throttled"     # the platform asked to slow down: every send waits retry_after
    RETRY = "retry"             # network trouble, a 5xx: try again later, with backoff
    FAILED = "failed"           # the platform refused this message for good (a bad request)


@dataclass(frozen=True)
class Delivery:
    result: Result
    error: str | None = None        # short, for the outbox row; never the message text
    retry_after: float = 0.0        # for THROTTLED


SENT = Delivery(Result.SENT)


@dataclass(frozen=True)
class Rendered:
    """A message ready for one platform. `choices` are the numbered choices it offers, where
    buttons are typed numbers ({"1": data, ...}), to remember for the resident."""

    payload: Any
    choices: dict[str, str] | None = None


class Courier(Protocol):
    platform: str

    def chat_interval(self, chat: str) -> float:
        """Seconds to keep between two messages to one chat."""

    def render(self, text: str, buttons: list[list[Button]], language: str) -> Rendered:
        """The message as this platform shows it (runs in a database thread: no I/O)."""

    async def send(self, chat: str, payload: Any) -> Delivery:
        """Send one rendered message; never raises for what the platform answered."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def short_error(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return text[:200]
