"""Zalo Bot Platform: events by long polling or a webhook, replies and outbox messages as text
with numbered choices (render.py), and a courier for the outbox (courier.py)."""
from __future__ import annotations

PLATFORM = "zalo"
CAN_PUSH = True


def build(settings, assistant, storage):
    if not settings.zalo_enabled:
        return None
    from bot.channels.zalo.channel import ZaloChannel
    return ZaloChannel(settings, assistant, storage)
