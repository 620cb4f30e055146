"""Zalo events in, replies out.

Each event is written down (bot/inbox.py) before it is handled, and deleted by the
transaction that handles it; what a crash leaves is handled at the next start. A long poll
acknowledges an event by returning it, so only a webhook event is stored before Zalo hears
"received"; a polled event is stored the moment it arrives.

The same event twice (a webhook retried, a poll repeated) is handled once: its update id is
a hash of Zalo's message id, and the core refuses an update it has processed.

One chat's events are handled one at a time, in order; different chats at once.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict

from sqlalchemy.orm import Session, sessionmaker

from bot import inbox
from bot.assistant import Assistant
from bot.button_data import Action, encode
from bot.channels.zalo import PLATFORM
from bot.channels.zalo.client import ZaloClient, ZaloError, ZaloNetworkError
from bot.channels.zalo.render import MENU_KEY, render, typed_key
from bot.handlers.turn import find_resident
from bot.content.media_check import AUDIO_MAX_BYTES
from bot.i18n import N_, translator
from bot.media.audio import AAC
from bot.media.routes import NO_AUDIO, audio_path, picture_path
from bot.models import Resident
from bot.ordering import KeyedLocks
from bot.pacing import SendGate
from bot.replies import Contact, Incoming, Reply
from bot.share_codes import payload_for
from bot.storage import StorageCheck

log = logging.getLogger(__name__)

MAX_CONCURRENT = 256         # events handled at once, over all chats
CHAT_BACKLOG = 10            # one chat's events waiting their turn; more is a flood, dropped
MAX_RETRY_AFTER = 8          # 429s one reply waits out before it is given up
MEMORY_CHATS = 10_000        # choices offered to people who have not consented, kept in memory
MEMORY_SECONDS = 24 * 3600
UNSUPPORTED = {"message.image.received": "photo", "message.sticker.received": "sticker",
               "message.voice.received": "voice"}
UNKNOWN_CHOICE = N_("Number {key} is not one of the choices. Type one of the numbers in my last message, "
                    "or 0 for the menu.")
FLOOD = N_("You sent many messages at once. I will answer them one at a time; the newest ones were "
           "skipped, so please send them again in a moment.")


def update_id(event: dict) -> int:
    """A stable 63-bit id for the event: from Zalo's message id, else from the whole event."""
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    key = message.get("message_id")
    source = str(key) if isinstance(key, (str, int)) and str(key) else json.dumps(event, sort_keys=True)
    return int.from_bytes(hashlib.blake2b(source.encode(), digest_size=8).digest(), "big") >> 1


def chat_of(event: dict) -> str | None:
    message = event.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return str(chat_id)[:64] if isinstance(chat_id, (str, int)) and str(chat_id) else None


def to_contact(event: dict) -> Contact | None:
    """Who wrote, in a private chat only: the bot teaches one resident at a time."""
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    chat_id = chat_of(event)
    if chat_id is None:
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    name = sender.get("display_name") or sender.get("name")
    return Contact(PLATFORM, chat_id, str(name)[:64] if isinstance(name, str) and name.strip() else None)


def to_incoming(event: dict) -> Incoming | None:
    name = event.get("event_name")
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    if name == "message.text.received":
        text = message.get("text")
        return Incoming.parse_typed(text[:4096]) if isinstance(text, str) and text.strip() else None
    if name in UNSUPPORTED:
        return Incoming.unsupported(UNSUPPORTED[name])
    if isinstance(name, str) and name.startswith("message."):
        return Incoming.unsupported("other")
    return None


class OfferedChoices:
    """The keys a chat may type now. A resident's are kept on their row (they survive a restart
    and go with /xoadulieu); before consent nothing is stored about a person, so theirs live in
    this process's memory for a day."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions
        self._memory: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()   # the core's worker threads (eight on PostgreSQL) share it

    def lookup(self, chat: str) -> dict[str, str] | None:
        """The chat's choices ({} if it offered none), or None if the bot does not know the chat:
        not a resident, and not talked to by this process for a day. Run in a worker thread."""
        with self.sessions() as session:
            resident = find_resident(session, Contact(PLATFORM, chat))
            if resident is not None:
                with self._lock:
                    self._memory.pop(chat, None)
                return resident.offered_choices or {}
        with self._lock:
            held = self._memory.get(chat)
        return held[1] if held is not None and time.monotonic() - held[0] < MEMORY_SECONDS else None

    def keep(self, chat: str, choices: dict[str, str] | None, resident: Resident | None) -> None:
        """Keep what the last message offered (None: it offered nothing, the last choices stay):
        on the resident's row (the caller commits), or in memory for someone not yet a resident."""
        if resident is not None and choices is not None:
            resident.offered_choices = choices
        with self._lock:
            if resident is not None:
                self._memory.pop(chat, None)
                return
            previous = self._memory.get(chat, (0.0, {}))[1]
            self._memory[chat] = (time.monotonic(), choices if choices is not None else previous)
            self._memory.move_to_end(chat)
            while len(self._memory) > MEMORY_CHATS:
                self._memory.popitem(last=False)


class ZaloInbound:
    def __init__(self, assistant: Assistant, client: ZaloClient, gate: SendGate, storage: StorageCheck | None):
        self.assistant, self.client, self.gate, self.storage = assistant, client, gate, storage
        self.choices = OfferedChoices(assistant.sessions)
        self._chats = KeyedLocks()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._waiting: Counter = Counter()
        self._told: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()

    # ---- receiving ---------------------------------------------------------------------------
    async def store(self, event: dict) -> int:
        """Write the event down; raises if it cannot be (a webhook must then not say 200)."""
        problem = self.storage.file_problem() if self.storage is not None else None
        if problem:
            raise OSError(problem)
        uid = update_id(event)
        await self.assistant.run(self.assistant.store_update, PLATFORM, uid, chat_of(event), event)
        return uid

    def dispatch(self, event: dict, uid: int) -> None:
        """Handle a stored event in its chat's turn, without waiting for it."""
        chat = chat_of(event)
        if chat is not None and self._waiting[chat] >= CHAT_BACKLOG:
            task = asyncio.create_task(self._flooded(chat, uid))
        else:
            if chat is not None:
                self._waiting[chat] += 1
            task = asyncio.create_task(self._in_turn(chat, event, uid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the events being handled (at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def replay_leftovers(self) -> int:
        bodies = await self.assistant.run(inbox.take_leftovers, self.assistant.sessions, PLATFORM)
        for body in bodies:
            self.dispatch(body, update_id(body))
        if bodies:
            log.info("handling %d Zalo events received before the last stop", len(bodies))
        return len(bodies)

    async def _in_turn(self, chat: str | None, event: dict, uid: int) -> None:
        try:
            async with self._chats(chat):
                async with self._slots:
                    await self.handle(event, uid)
        except Exception as exc:  # noqa: BLE001 - one event must not stop the others
            # The type only: an error's text may quote what the resident wrote.
            log.error("error while handling a Zalo event: %s", type(exc).__name__,
                      exc_info=(type(exc), exc, exc.__traceback__))
            if chat is not None:
                await self._say(chat, translator("vi")(N_("Sorry, something went wrong on my side. "
                                                           "Please try again in a moment.")))
        finally:
            if chat is not None:
                self._waiting[chat] -= 1
                if not self._waiting[chat]:
                    del self._waiting[chat]

    async def _flooded(self, chat: str, uid: int) -> None:
        await self.assistant.run(self.assistant.discard_update, PLATFORM, uid)
        now = time.monotonic()
        if len(self._told) > 10_000:
            self._told = {k: t for k, t in self._told.items() if now - t < 60}
        if now - self._told.get(chat, -60.0) >= 60:
            self._told[chat] = now
            await self._say(chat, translator("vi")(FLOOD))

    async def handle(self, event: dict, uid: int) -> None:
        contact, incoming = to_contact(event), to_incoming(event)
        if contact is None or incoming is None:
            await self.assistant.run(self.assistant.discard_update, PLATFORM, uid)
            return
        log.debug("zalo event: %s", incoming.kind)   # the kind only, never the text
        if incoming.what == "voice" and await self.assistant.run(self.assistant.awaits_recording, contact):
            # An official's recording after /ghiam; nobody else's voice message is fetched.
            voice = (event.get("message") or {}).get("voice")
            incoming = Incoming.recording(await self.client.download(voice, AUDIO_MAX_BYTES)
                                          if isinstance(voice, str) else b"")
        incoming, unknown = await self.assistant.run(self._pressed, contact.external_id, incoming)
        if unknown is not None:
            await self.assistant.run(self.assistant.discard_update, PLATFORM, uid)
            await self._send(contact.external_id, [Reply(translator("vi")(UNKNOWN_CHOICE).format(key=unknown))])
            return
        replies = await self.assistant.handle_async(contact, incoming, (PLATFORM, uid))
        await self._send(contact.external_id, replies)

    def _pressed(self, chat: str, incoming: Incoming) -> tuple[Incoming, str | None]:
        """A typed key becomes the press of the button that offered it. Returns the input to
        handle, or the number typed when it matches no choice (a letter goes on as text).

        Zalo has no /start: a person the bot does not know yet is greeted (and asked for
        consent) whatever they first write, unless it is a share code, which does what its link
        would (bot/share_codes.py)."""
        if incoming.kind != "text":
            return incoming, None
        offered = self.choices.lookup(chat)
        if offered is None:
            with self.assistant.sessions() as session:
                pack = self.assistant.knowledge.pack(self.assistant.knowledge.default_language)
                if payload_for(session, incoming.text, pack.code_words) is None:
                    return Incoming.command("start"), None
            return incoming, None
        key = typed_key(incoming.text)
        if key is None:
            return incoming, None
        if key in offered:
            return Incoming.button(offered[key]), None
        if key == MENU_KEY:
            return Incoming.button(encode(Action.MENU)), None
        return incoming, (key if key.isdigit() else None)

    # ---- replying ----------------------------------------------------------------------------
    async def _send(self, chat: str, replies: list[Reply]) -> None:
        texts = await self.assistant.run(self._rendered, chat, replies)
        for reply, parts in zip(replies, texts):
            for method, params in await self._messages(reply, parts):
                if not await self._call(chat, method, params):
                    return

    async def _messages(self, reply: Reply, parts: list[str]) -> list[tuple[str, dict]]:
        """One reply as Zalo calls: its picture, its text in parts, its sound. Zalo fetches a picture
        or a sound from our public address (HOCVUSO_PUBLIC_URL): without one, only the text goes."""
        base, media = self.assistant.public_url, self.assistant.media
        calls: list[tuple[str, dict]] = []
        if reply.image is not None and base:
            calls.append(("sendPhoto", {"photo": base + picture_path(reply.image),
                                        "caption": reply.image.caption}))
        calls += [("sendMessage", {"text": part}) for part in parts]
        if reply.audio is not None:
            voice = await asyncio.to_thread(media.voice, reply.audio, AAC) if base else None
            if voice is not None:
                calls.append(("sendVoice", {"voice": base + audio_path(voice.name)}))
            else:
                calls.append(("sendMessage", {"text": translator("vi")(NO_AUDIO)}))
        return calls

    def _rendered(self, chat: str, replies: list[Reply]) -> list[list[str]]:
        """Each reply's text as Zalo messages, in the resident's language; the choices they offer
        are kept at once (a number typed before the last part arrives still finds them). A reply
        that is only a sound has no text."""
        with self.assistant.sessions.begin() as session:
            resident = find_resident(session, Contact(PLATFORM, chat))
            _ = translator(resident.language if resident is not None else self.assistant.knowledge.default_language)
            renderings = [render(reply, _) for reply in replies]
            offered = next((r.choices for r in reversed(renderings) if r.choices), None)
            self.choices.keep(chat, offered, resident)
        return [rendering.parts if reply.text or reply.buttons else []
                for reply, rendering in zip(replies, renderings)]

    async def _say(self, chat: str, text: str) -> bool:
        return await self._call(chat, "sendMessage", {"text": text})

    async def _call(self, chat: str, method: str, params: dict) -> bool:
        """Send one message (a text, a picture or a sound, by `method`) in the channel's pace;
        False if the chat cannot be reached now."""
        for _attempt in range(MAX_RETRY_AFTER + 1):
            await self.gate.reply_slot()
            try:
                await self.client.call(method, {"chat_id": chat, **params})
                return True
            except ZaloError as exc:
                if exc.throttled:
                    seconds = exc.retry_after or 5.0
                    self.gate.pause(seconds)
                    log.warning("Zalo asked to slow down: waiting %ss before a reply", seconds)
                    continue
                log.info("Zalo refused a reply (%s/%s)", exc.status, exc.code)
                return False
            except ZaloNetworkError as exc:
                log.info("could not reach Zalo to reply (%s)", exc)
                return False
        return False
