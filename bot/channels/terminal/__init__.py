"""`hocvuso chat` (chat.py): the core in a terminal, for trying the bot and for tests. It is not
part of `hocvuso serve` and cannot be messaged unasked."""
from __future__ import annotations

PLATFORM = "terminal"
CAN_PUSH = False


def build(settings, assistant, storage):
    return None
