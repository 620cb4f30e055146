"""Replies as Zalo shows them: text only, buttons as choices the resident types.

Zalo bots have no buttons, no message edits and no deep links. So:
- buttons become numbered choices, "Gõ 1 – Tiếp ➡️ · 2 – Quay lại · 0 – Menu". The menu is
  always 0. Where every label is already a short key (the quiz's A B C D, the helped-people
  counts 1 2 5 10), the key is the label itself;
- a typed key presses the button of the last message that offered it. The choices are kept as
  the buttons' data, which names its target, so an old number stays harmless;
- an edit is a new message;
- a text over 2,000 characters is split at paragraph boundaries, the choices in the last part;
- a share link is its short code, to type or read out over the phone (bot/replies.code_line).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.button_data import Action, encode
from bot.i18n import N_, Translator
from bot.replies import Button, Reply, with_codes

MAX_TEXT = 2000                 # sendMessage takes 1 to 2,000 characters
MENU_KEY = "0"
MENU_DATA = encode(Action.MENU)
LISTEN_PREFIX = encode(Action.LISTEN) + ":"
INLINE_WIDTH = 70               # choices longer than this go one per line
SHORT_KEY = re.compile(r"^[A-Za-z0-9]{1,3}$")
KEY_TYPED = re.compile(r"^\s*#?\s*([A-Za-z0-9]{1,3})\s*[.)!,:;]*\s*$")

TYPE_ONE_LINE = N_("Type {choices}")
TYPE_MANY = N_("Type a number to choose:")


@dataclass(frozen=True)
class Rendering:
    parts: list[str]                     # the messages to send, each within MAX_TEXT
    choices: dict[str, str] | None       # key -> button data, when the reply offers any


def keyed(buttons: list[list[Button]]) -> list[tuple[str, Button]]:
    """The buttons a resident can press by typing, with their keys."""
    pressable = [b for row in buttons for b in row if b.data and not b.url and not b.code]
    menu = [b for b in pressable if b.data == MENU_DATA]
    # "🔊 Nghe" comes after the choices, so they keep their keys ("1 – Tiếp", the quiz's A B C D).
    listen = [b for b in pressable if b.data.startswith(LISTEN_PREFIX)]
    others = [b for b in pressable if b.data != MENU_DATA and b not in listen]
    labels = [b.label.strip().upper() for b in others]
    if others and all(SHORT_KEY.match(label) for label in labels) and len(set(labels)) == len(labels) \
            and MENU_KEY not in labels:
        pairs = list(zip(labels, others))
        free = (str(n) for n in range(1, 10) if str(n) not in labels)
        pairs += [(next(free), b) for b in listen]
    else:
        pairs = [(str(n), b) for n, b in enumerate(others + listen, start=1)]
    return pairs + [(MENU_KEY, b) for b in menu[:1]]


def choice_line(pairs: list[tuple[str, Button]], _: Translator) -> str:
    shown = [key if key == b.label.strip().upper() else f"{key} – {b.label}" for key, b in pairs]
    inline = _(TYPE_ONE_LINE).format(choices=" · ".join(shown))
    if len(inline) <= INLINE_WIDTH:
        return inline
    return "\n".join([_(TYPE_MANY), *shown])


def render(reply: Reply, _: Translator) -> Rendering:
    reply = with_codes(reply, _)
    lines = [reply.text]
    links = [f"{b.label}: {b.url}" for row in reply.buttons for b in row if b.url]
    if links:
        lines.append("\n".join(links))
    pairs = keyed(reply.buttons)
    if pairs:
        lines.append(choice_line(pairs, _))
    text = "\n\n".join(line for line in lines if line)
    choices = {key: b.data for key, b in pairs} or None
    return Rendering(split(text), choices)


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit` characters, cut at paragraph breaks, else line breaks, else
    spaces; a part is never empty (Zalo refuses an empty message)."""
    text = text.strip() or "…"
    parts: list[str] = []
    while len(text) > limit:
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = text.rfind(sep, 0, limit + 1)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].strip()
    parts.append(text)
    return [part for part in parts if part]


def typed_key(text: str) -> str | None:
    """The key a resident typed ("1", " 2. ", "#3", "b"), upper-cased, or None."""
    match = KEY_TYPED.match(text)
    return match.group(1).upper() if match else None
