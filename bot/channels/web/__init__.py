"""The web chat: a page and a JSON endpoint (chat.py), rendering the core's replies as JSON.
It answers when asked; with HOCVUSO_PUBLIC_URL set it can also push, by Web Push (push.py keeps
the browsers' subscriptions, courier.py sends), but only to residents whose browser allowed it.
So CAN_PUSH is False: not every web resident is reachable, and bot/channels/reach.py decides
who is."""
from __future__ import annotations

PLATFORM = "web"
CAN_PUSH = False


def build(settings, assistant, storage):
    from bot.channels.web.chat import WebChannel
    return WebChannel(settings, assistant.sessions)
