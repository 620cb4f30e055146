"""Channels: one folder per platform, each receiving from it and sending to it.

As RapidPro's courier does it, a channel folder (bot/channels/<name>/) owns both directions:
- inbound: it parses the platform's events into `Incoming` for the core, and renders the
  core's `Reply` objects for the platform;
- outbound: where the platform lets a bot message someone unasked, a courier
  (bot/channels/courier.py) renders outbox messages and maps the platform's answers to
  neutral outcomes. The outbox sender (bot/delivery.py) knows no platform.

A channel package's __init__ says, cheaply (no imports of its own SDK):
  PLATFORM  the name stored with each resident ("telegram", "zalo", ...);
  CAN_PUSH  whether reminders, announcements and broadcasts reach every one of its residents
            (PUSH_PLATFORMS); the web chat reaches only some (bot/channels/reach.py decides);
  build(settings, assistant, storage) -> Channel | None   (None when not switched on).
Adding a channel is one new folder here plus its settings in bot/config.py.
"""
from __future__ import annotations

import asyncio
import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter

    from bot.channels.courier import Courier
    from bot.pacing import SendGate


class Channel(Protocol):
    """A channel switched on in `hocvuso serve`."""

    platform: str
    state: str                    # off | connecting | ready, for /healthz
    ready: asyncio.Event          # set once it receives and sends
    router: APIRouter | None      # its webhook or pages, mounted on the app
    rate: float                   # messages per second it may send, replies and outbox together
    gate: SendGate                # the clock its replies and its outbox share (bot/pacing.py)

    async def start(self) -> None:
        """Connect (retrying while the network is down) and start receiving."""

    async def stop(self) -> None: ...

    def courier(self) -> Courier | None:
        """A new courier for the outbox sender, or None if the channel cannot push."""

    def outbox_gate(self) -> SendGate | None:
        """The clock the outbox shares with the replies, or None for a clock of its own."""


def packages() -> list[ModuleType]:
    """Every channel package, in name order."""
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name) if info.ispkg]


PUSH_PLATFORMS: tuple[str, ...] = tuple(p.PLATFORM for p in packages() if p.CAN_PUSH)
