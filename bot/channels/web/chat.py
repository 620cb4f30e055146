"""Web chat: a small page and a JSON endpoint, rendering the same core replies as the messengers.

Anyone can open as many web sessions as they like, so the endpoint is rate-limited (the `limits`
library, moving windows in memory): per session, per client address, and much harder for new
residents (consents) per address. A limited request gets 429 with Retry-After and the API's JSON
error; the page says so kindly and offers to try again.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field, model_validator

from admin_api.errors import error_body
from admin_api.schemas import ErrorOut
from bot.addresses import client_address, wait_seconds
from bot.i18n import N_, translator
from bot.ordering import KeyedLocks
from bot.button_data import Action, encode, is_destructive
from bot.media.audio import AAC, OPUS
from bot.media.routes import NO_AUDIO, audio_path, picture_path
from bot.replies import Contact, Incoming, Reply, with_codes

from bot.channels.web import PLATFORM, embed
PAGE = Path(__file__).with_name("chat.html")
STATIC = Path(__file__).with_name("static")
SERVICE_WORKER = STATIC / "sw.js"
ICON_SIZES = (192, 512)

router = APIRouter()
router.include_router(embed.router)   # /chat/embed.js: the chat on the commune's website
_sessions = KeyedLocks()


# --- rate limits ------------------------------------------------------------------------------
# The defaults, in the `limits` notation. A test may put other ones on
# app.state.webchat_limits (a WebChatLimits) before the first request.
#
# A resident taps a button every couple of seconds at most: about 30 a minute while paging
# quickly through the steps of a lesson. A script sends hundreds a second.
PER_SESSION = "60 per minute"
# Many residents can share one address: a class on the Wi-Fi of the cultural house, or phones
# behind a carrier's NAT. 1200 a minute is 40 people each tapping every 2 seconds without pause.
PER_ADDRESS = "1200 per minute"
# Saying "Yes" to consent makes a new resident: once per person, but one tap for a script. A class
# of up to 50 signing up together fits, and so does a busy event day at one venue; a hundred fake
# residents a second do not.
NEW_RESIDENTS_PER_ADDRESS = "50 per 10 minutes; 200 per day"

CONSENT_YES = ["c", "y"]     # the consent button's data, "c:y" or "c:y:<link>" (bot/handlers/start.py)


@dataclass(frozen=True)
class Rule:
    field: str                      # named in the 429 error: what is being limited
    items: tuple[RateLimitItem, ...]
    message: str                    # msgid; {seconds} is the wait


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    retry_after: int                # whole seconds until the request would be admitted


class WebChatLimits:
    """The web chat's limits, kept in this process's memory.

    Each process counts on its own: with several `hocvuso serve` processes behind a load
    balancer, a client may get up to that many times the limits.
    """

    def __init__(self, per_session: str = PER_SESSION, per_address: str = PER_ADDRESS,
                 new_residents_per_address: str = NEW_RESIDENTS_PER_ADDRESS):
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self.session = Rule("session", tuple(parse_many(per_session)),
                            N_("This chat is sending messages too fast. Please wait {seconds} seconds."))
        self.address = Rule("client", tuple(parse_many(per_address)),
                            N_("Too many messages from this network. Please wait {seconds} seconds."))
        self.new_resident = Rule("button", tuple(parse_many(new_residents_per_address)),
                                 N_("Too many new learners from this network. Please wait {seconds} seconds."))

    def admit(self, session: str, address: str, new_resident: bool) -> Refusal | None:
        """Count the request against every limit it falls under, or refuse it and count nothing.

        Only the event loop calls this and nothing awaits between the tests and the hits, so
        two requests cannot both take the last place in a window.
        """
        checks = [(self.session, session), (self.address, address)]
        if new_resident:
            checks.append((self.new_resident, address))
        for rule, key in checks:
            for item in rule.items:
                if not self._windows.test(item, rule.field, key):
                    return Refusal(rule, wait_seconds(self._windows, item, rule.field, key))
        for rule, key in checks:
            for item in rule.items:
                self._windows.hit(item, rule.field, key)
        return None


def limits_of(app: FastAPI) -> WebChatLimits:
    """The app's limits, made with the defaults on first use unless already set."""
    limits = getattr(app.state, "webchat_limits", None)
    if limits is None:
        limits = app.state.webchat_limits = WebChatLimits()
    return limits


def too_many(refusal: Refusal) -> JSONResponse:
    body = error_body(429, refusal.rule.message, refusal.rule.field, seconds=refusal.retry_after)
    return JSONResponse(body, 429, headers={"Retry-After": str(refusal.retry_after)})


# --- the page and the endpoint -----------------------------------------------------------------

class ChatInput(BaseModel):
    session: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$",
                                  description="random id the page keeps in localStorage")]
    text: Annotated[str | None, Field(max_length=4096)] = None
    button: Annotated[str | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _one_of(self) -> ChatInput:
        if (self.text is None) == (self.button is None):
            raise ValueError("send exactly one of 'text' or 'button'")
        return self

    @property
    def creates_resident(self) -> bool:
        """A press of "Yes" to consent: the only message that can make a new resident."""
        return self.button is not None and self.button.split(":")[:2] == CONSENT_YES


class ImageOut(BaseModel):
    src: str
    caption: str


class AudioOut(BaseModel):
    src: str
    type: str


class ReplyOut(BaseModel):
    text: str
    edit: bool
    buttons: list[list[dict[str, str]]]
    image: ImageOut | None = None
    audio: list[AudioOut] | None = Field(default=None, description="one sound, in formats to choose from")


class ChatOutput(BaseModel):
    replies: list[ReplyOut]


ERRORS = {
    422: {"model": ErrorOut, "description": "Invalid input, including a body that is not JSON in UTF-8: "
                                            "error.field names the field (\"body\" for the whole body)"},
    429: {"model": ErrorOut,
          "description": "Too many messages; send again after Retry-After seconds. error.field says which "
                         "limit: \"session\" (this chat), \"client\" (this network address) or \"button\" "
                         "(new residents from this address)",
          "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string",
                                                                                   "pattern": "^[1-9][0-9]*$"}}}},
    503: {"model": ErrorOut, "description": "The database cannot keep anything now (down, read-only, full, or "
                                            "its file was lost); nothing was saved: try again later"},
}


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/chat")


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[embed.ALLOW_FRAMING])   # framed only by HOCVUSO_EMBED_ORIGINS
def chat_page() -> str:
    return _page()


@cache
def _page() -> str:
    """The page, with its strings from the catalog; made once (it is the same for everyone)."""
    _ = translator("vi")
    strings = {"title": _("Digital skills assistant"), "placeholder": _("Type a short question…"),
               "send": _("Send"), "offline": _("No connection. Please try again."),
               "busy": _("Many messages are arriving right now. Please wait a moment, then tap \"Try again\"."),
               "retry": _("Try again"),
               "too_long": _("That message is too long for me. Please ask in one short sentence."),
               "sending": _("Sending…"),
               "unavailable": _("Sorry, I cannot save anything right now. Please try again in a little while."),
               "no_network": _("📵 No connection. You can read what is here; when the signal is back, "
                               "write again."),
               "bigger": _("Bigger text"),
               "copied": _("✅ Copied. Paste it into Zalo or a text message to send it.")}
    return Template(PAGE.read_text(encoding="utf-8")).substitute(
        title=strings["title"], strings=json.dumps(strings, ensure_ascii=False))


# --- installing the page on the home screen ----------------------------------------------------

@router.get("/chat/manifest.webmanifest", include_in_schema=False)
def manifest() -> JSONResponse:
    _ = translator("vi")
    body = {"name": _("Digital skills assistant"), "short_name": _("Digital skills"), "lang": "vi",
            "start_url": "/chat", "scope": "/chat", "display": "standalone",
            "background_color": "#eef2f5", "theme_color": "#c62828",
            "icons": [{"src": f"/chat/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any"}
                      for n in ICON_SIZES]}
    return JSONResponse(body, media_type="application/manifest+json")


@router.get("/chat/sw.js", include_in_schema=False)
def service_worker() -> Response:
    # Its scope is /chat (the page's own address, above this file's folder), which the header
    # allows; no-cache so that a new version is found at the next visit.
    return Response(_worker(), media_type="text/javascript",
                    headers={"Service-Worker-Allowed": "/chat", "Cache-Control": "no-cache"})


@cache
def _worker() -> str:
    version = hashlib.sha256((_page() + SERVICE_WORKER.read_text(encoding="utf-8")).encode()).hexdigest()[:12]
    return Template(SERVICE_WORKER.read_text(encoding="utf-8")).substitute(version=version)


@router.get("/chat/icon-{size}.png", include_in_schema=False)
def icon(size: int) -> Response:
    if size not in ICON_SIZES:
        return JSONResponse(error_body(404, N_("Not found"), "size"), 404)
    return FileResponse(STATIC / f"icon-{size}.png", media_type="image/png",
                        headers={"Cache-Control": "public, max-age=604800"})


@router.post("/chat/api/send", response_model=ChatOutput, tags=["web chat"], responses=ERRORS)
async def send(body: ChatInput, request: Request) -> ChatOutput | JSONResponse:
    refusal = limits_of(request.app).admit(body.session, client_address(request), body.creates_resident)
    if refusal is not None:
        return too_many(refusal)
    incoming = Incoming.button(body.button) if body.button is not None else Incoming.parse_typed(body.text)
    assistant = request.app.state.assistant
    async with _sessions(body.session):
        replies = await assistant.handle_async(Contact(PLATFORM, body.session), incoming)
    # links=True: a share link is a button the page hands to the phone's share sheet.
    out = [_out(with_codes(r, translator("vi"), links=True)) for r in replies]
    for reply, shown in zip(replies, out):
        await _media(assistant.media, reply, shown)
    return ChatOutput(replies=out)


async def _media(media, reply: Reply, shown: ReplyOut) -> None:
    """A reply's picture and sound, as addresses the page loads from /media/ (bot/media/routes.py)."""
    if reply.image is not None:
        shown.image = ImageOut(src=picture_path(reply.image), caption=reply.image.caption)
    if reply.audio is not None:
        files = [await asyncio.to_thread(media.voice, reply.audio, fmt) for fmt in (OPUS, AAC)]
        if all(files):
            shown.audio = [AudioOut(src=audio_path(f.name), type=f.fmt.mime) for f in files]
            shown.text = shown.text or f"🔊 {reply.audio.title}".strip()   # what the player reads
        else:
            shown.text = "\n\n".join(t for t in (shown.text, translator("vi")(NO_AUDIO)) if t)


# Buttons the page acts on before sending them: it asks the browser for notifications.
CLIENT_ACTIONS = {encode(Action.NOTIFY, 1): "subscribe", encode(Action.NOTIFY, 0): "unsubscribe"}


def _out(reply: Reply) -> ReplyOut:
    """A reply as the page gets it; a button that cannot be undone says so (style "danger")."""
    out = reply.to_dict()
    for row in out["buttons"]:
        for button in row:
            if is_destructive(button["data"]):
                button["style"] = "danger"
            if button["data"] in CLIENT_ACTIONS:
                button["client"] = CLIENT_ACTIONS[button["data"]]
    return ReplyOut(**out)


class WebChannel:
    """The web chat in `hocvuso serve`: always on, its page and endpoints on the app. With a public
    URL it also pushes to residents whose browser allowed notifications (push.py, courier.py)."""

    platform = PLATFORM
    state = "ready"
    gate = None

    def __init__(self, settings=None, sessions=None) -> None:
        from bot.channels.web import courier, push   # they import this module
        self.settings, self.sessions = settings, sessions
        self.push = bool(settings and settings.web_push_enabled and sessions is not None)
        self.rate = courier.SEND_RATE if self.push else 0.0
        self.ready = asyncio.Event()
        self.ready.set()
        # A router of its own per app: including push's into the module's router would add its
        # routes again for every app a process makes (the tests make many).
        self.router = APIRouter()
        self.router.include_router(router)
        self.router.include_router(push.router)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def courier(self):
        """Web Push needs HOCVUSO_PUBLIC_URL (the contact push services get); without it the page
        can only answer, and nothing is sent to it unasked."""
        if not self.push:
            return None
        from bot.channels.web.courier import WebPushCourier
        return WebPushCourier(self.sessions, self.settings.public_url)

    def outbox_gate(self) -> None:
        return None
