"""The web chat: a page and a JSON endpoint (chat.py), rendering the core's replies as JSON.
It answers only when asked, so it has no courier: broadcasts cannot reach its residents."""
from __future__ import annotations

PLATFORM = "web"
CAN_PUSH = False


def build(settings, assistant, storage):
    from bot.channels.web.chat import WebChannel
    return WebChannel()
