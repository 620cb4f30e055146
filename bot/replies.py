"""What the conversation core says back: platform-neutral text plus rows of buttons.

Channels (bot/channels/: Telegram, Zalo, the web chat, the terminal) only render these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

CALLBACK_DATA_MAX = 64  # Telegram's limit for callback_data, in bytes


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""
    url: str | None = None   # a link button (a share link) instead of a callback
    # A short code standing for a share link (bot/share_codes.py), as residents see it ("ABC-123"),
    # for channels with no links to open a bot (Zalo) and for reading out over the phone. A
    # channel that cannot show `url` shows the code instead (code_line).
    code: str | None = None

    def __post_init__(self) -> None:
        if len(self.data.encode()) > CALLBACK_DATA_MAX:
            raise ValueError(f"button data too long: {self.data!r}")


def code_line(button: Button, _: Callable[[str], str]) -> str:
    """A button standing for a share link, where there is no link to open (Zalo, the web chat, the
    terminal, a card read out over the phone): its label and the code to send instead."""
    return _("{label}: send the code {code} to the assistant").format(label=button.label, code=button.code)


def with_codes(reply: Reply, _: Callable[[str], str], links: bool = False) -> Reply:
    """The reply for a channel with nothing to press for a share code: each button standing for
    one becomes a line of the text (code_line). `links`: the channel opens a button's link, so a
    button with a link stays a button."""
    codes = [b for row in reply.buttons for b in row if b.code and not b.data and not (links and b.url)]
    if not codes:
        return reply
    rows = [[b for b in row if b not in codes] for row in reply.buttons]
    text = "\n\n".join([reply.text, "\n".join(code_line(b, _) for b in codes)])
    return Reply(text, [row for row in rows if row], reply.edit, reply.image, reply.audio)


@dataclass(frozen=True)
class Speech:
    """A lesson part to be heard: its media key (bot/media/keys.py), in which language, and the
    text the synthesized voice reads where nobody has recorded it."""

    language: str
    key: str
    text: str
    title: str = ""     # what the sound is of, shown with the player or the voice note


@dataclass(frozen=True)
class Picture:
    """A picture from knowledge/<language>/images/, sent before the text, with its caption."""

    language: str
    file: str
    caption: str


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # True: replace the message whose button was pressed, where the platform allows.
    edit: bool = False
    image: Picture | None = None    # sent first: a photo with its caption
    audio: Speech | None = None     # sent last: a voice note (alone, where the text is "")

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "edit": self.edit,
            "buttons": [[{"label": b.label, "data": b.data} | ({"url": b.url} if b.url else {})
                         | ({"code": b.code} if b.code else {}) for b in row] for row in self.buttons],
        }


@dataclass(frozen=True)
class Contact:
    """Who is talking: a platform and that platform's id for the chat."""

    platform: str
    external_id: str
    first_name: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One thing a resident did."""

    kind: Literal["command", "text", "button", "unsupported", "recording"]
    text: str = ""  # the command name for commands, the message for text, the data for buttons
    args: str = ""  # what followed a command, e.g. the /start payload
    what: str = ""  # for unsupported input: photo, sticker, voice, location, ...
    data: bytes = b""  # a recording: the voice note an official sent after /ghiam

    @classmethod
    def command(cls, name: str, args: str = "") -> Incoming:
        return cls("command", name.lower(), args.strip())

    @classmethod
    def message(cls, text: str) -> Incoming:
        return cls("text", text)

    @classmethod
    def button(cls, data: str) -> Incoming:
        return cls("button", data)

    @classmethod
    def recording(cls, data: bytes, too_large: bool = False) -> Incoming:
        """`too_large`: a file over the limit, not fetched (its bytes are not here)."""
        return cls("recording", data=data, what="too_large" if too_large else "")

    @classmethod
    def unsupported(cls, what: str) -> Incoming:
        return cls("unsupported", what=what)

    @classmethod
    def parse_typed(cls, text: str) -> Incoming:
        """A typed line: '/cmd args' is a command, anything else is free text."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            name, _, args = stripped[1:].partition(" ")
            return cls.command(name.split("@", 1)[0], args)
        return cls.message(text)
