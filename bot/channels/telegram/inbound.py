"""Telegram adapter: python-telegram-bot in, core replies out.

Long polling by default; webhook mode posts updates into the same Application from the
ASGI app (see bot/web.py). Every update is written down before it is acknowledged
(bot/inbox.py). Updates from one chat are handled strictly in order, in a short queue of their
own; replies keep to Telegram's rate through the process's send gate (bot/pacing.py).
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle, InputTextMessageContent,
                      Message, Update)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot import inbox
from bot.assistant import Assistant
from bot.config import Settings
from bot.content.media_check import AUDIO_MAX_BYTES
from bot.i18n import N_, translator
from bot.media.audio import OPUS
from bot.media.library import MediaLibrary
from bot.media.routes import NO_AUDIO
from bot.ordering import KeyedLocks
from bot.pacing import SendGate, as_seconds
from bot.replies import Button, Contact, Incoming, Reply, with_codes
from bot.storage import StorageCheck

log = logging.getLogger(__name__)

from bot.channels.telegram import PLATFORM
MAX_CONCURRENT_UPDATES = 256   # updates handled at once, over all chats
CONNECTIONS = 64               # to the Bot API, for replies: also the requests in flight (ReplyPacer)
CHAT_BACKLOG = 10              # one chat's updates waiting their turn; more is a flood, dropped
FLOOD_NOTICE_SECONDS = 60      # a flooding chat is told at most once in this time
MAX_RETRY_AFTER = 8            # 429s one request waits out before it gives up
STORE_RETRY_SECONDS = (1, 2, 5, 10, 30)
FLOOD = N_("You sent many messages at once. I will answer them one at a time; the newest ones were "
           "skipped, so please send them again in a moment.")
UNSUPPORTED_KINDS = ("photo", "sticker", "voice", "audio", "video", "video_note", "animation",
                     "document", "location", "venue", "contact", "poll", "dice")
KEYBOARDS_KEPT = 512           # keyboards built once and reused (steps, menus): a few KB in all


def _fail_sniffio_fast() -> None:
    """httpcore (python-telegram-bot's HTTP client) runs `import sniffio` on every request, several
    times; sniffio is optional and not installed, and each failed import searches every folder
    on sys.path again: a tenth of the process's CPU while residents tap. Marking it absent makes
    that import fail at once, as it would anyway. Left alone where sniffio is installed."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None


_fail_sniffio_fast()


def chat_key(update: Update) -> int | None:
    chat, user = update.effective_chat, update.effective_user
    return chat.id if chat else (user.id if user else None)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Different chats run concurrently; one chat's updates run one at a time, in order.

    An update waits for its chat's turn before it takes one of the MAX_CONCURRENT_UPDATES
    slots (PTB's own semaphore is taken first, so it is made too large to matter): a chat
    sending hundreds of messages holds one slot, not all of them. Past CHAT_BACKLOG waiting
    updates, a chat's new ones are dropped and `on_flood` answers the flood once."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, backlog: int = CHAT_BACKLOG):
        super().__init__(1_000_000)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._chats = KeyedLocks()
        self._waiting: Counter = Counter()
        self._told: dict[int, float] = {}   # chat -> when it was last told it sent too much
        self.backlog = backlog
        self.on_flood: Callable[[Update, bool], Awaitable[None]] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update) if isinstance(update, Update) else None
        if key is None:
            async with self._slots:
                await coroutine
            return
        if self._waiting[key] >= self.backlog:
            coroutine.close()   # never run: not "never awaited" either
            if self.on_flood is not None:
                await self.on_flood(update, self._tell(key))
            return
        self._waiting[key] += 1
        try:
            async with self._chats(key):
                async with self._slots:
                    await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]

    def _tell(self, key: int) -> bool:
        """Whether to answer this flood (once per FLOOD_NOTICE_SECONDS per chat)."""
        now = time.monotonic()
        if len(self._told) > 10_000:
            self._told = {k: t for k, t in self._told.items() if now - t < FLOOD_NOTICE_SECONDS}
        if now - self._told.get(key, -FLOOD_NOTICE_SECONDS) < FLOOD_NOTICE_SECONDS:
            return False
        self._told[key] = now
        return True

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class DurableUpdateQueue(asyncio.Queue):
    """The Application's update queue, writing each update down before queueing it. The long
    poll asks for the next offset (which acknowledges) only after put() returns, and the
    webhook answers 200 only after store(); so an acknowledged update is never lost.

    The long poll's updates are stored one at a time, each in its turn on the database thread:
    they come in no faster than the process answers them. Storing a poll's whole answer in one
    transaction was tried: one commit per update instead of two, but no more updates answered
    a second (bench/bench_pipeline.py), for more code."""

    def __init__(self, assistant: Assistant, storage: StorageCheck | None = None,
                 polled: UpdatesRequest | None = None):
        super().__init__()
        self.assistant, self.storage, self.polled = assistant, storage, polled

    async def store(self, update: Update, body: dict | None = None) -> None:
        """Write the update down; raises if it cannot be (then it must not be acknowledged).
        `body`: the update as Telegram sent it (the webhook's JSON); the long poll's comes from
        its request (UpdatesRequest). Only without one is the Update turned back into a dict."""
        problem = self.storage.file_problem() if self.storage is not None else None
        if problem:
            raise OSError(problem)
        if body is None and self.polled is not None:
            body = self.polled.body_of(update.update_id)
        key = chat_key(update)
        await self.assistant.run(self.assistant.store_update, PLATFORM, update.update_id,
                                 None if key is None else str(key), body or update.to_dict())

    async def put(self, item: object) -> None:
        """From the long poll: no next offset until the update is stored, however long it takes."""
        attempt = 0
        while isinstance(item, Update):
            try:
                await self.store(item)
                break
            except Exception as exc:  # noqa: BLE001 - the database is down or full: keep the update unacknowledged
                if self.storage is not None:
                    self.storage.note_failure(exc)
                delay = STORE_RETRY_SECONDS[min(attempt, len(STORE_RETRY_SECONDS) - 1)]
                log.error("could not store an update (%s); not acknowledging it, retrying in %ss",
                          type(exc).__name__, delay)
                attempt += 1
                await asyncio.sleep(delay)
        await super().put(item)

    async def put_stored(self, update: Update) -> None:
        """Queue an update already written down (the webhook's, or one left by a crash)."""
        await super().put(update)


class UpdatesRequest(HTTPXRequest):
    """The long poll's HTTP requests (python-telegram-bot's default for getUpdates), keeping the
    updates of its last answer as Telegram sent them, for the inbox: turning an Update back into
    a dict cost 0.1 ms each, and python-telegram-bot never alters what it parses. The poll asks
    again only after every update of an answer is stored, so one answer is all this holds."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)   # what python-telegram-bot builds for getUpdates
        self._bodies: dict[int, dict] = {}

    def parse_json_payload(self, payload: bytes) -> dict:
        data = super().parse_json_payload(payload)
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list):
            self._bodies = {u["update_id"]: u for u in result if isinstance(u, dict) and "update_id" in u}
        return data

    def body_of(self, update_id: int) -> dict | None:
        return self._bodies.get(update_id)   # kept if storing fails: the retry stores the same


class ReplyPacer(BaseRateLimiter):
    """Every Bot API call of the Application goes through here (PTB's rate-limiter hook).
    Messages take a slot of the process's send gate, ahead of the outbox; every call waits out
    a 429 and is tried again, instead of the reply being dropped.

    At most `in_flight` calls are sent at once, as many as the HTTP pool has connections; the
    others wait their turn here. Waiting inside the pool (httpcore) costs CPU for every waiting
    request each time any request starts or ends: with 200 residents tapping, a third of the
    process's CPU went to that."""

    PACED = frozenset({"sendMessage", "sendPhoto", "sendVoice", "sendAudio", "sendDocument", "sendSticker",
                       "sendVideo", "sendAnimation", "sendLocation", "sendMediaGroup", "copyMessage",
                       "forwardMessage"})

    def __init__(self, gate: SendGate, in_flight: int = CONNECTIONS):
        self.gate = gate
        self.in_flight = asyncio.Semaphore(in_flight)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        attempts = 0
        while True:
            if endpoint in self.PACED:
                await self.gate.reply_slot()
            else:
                await self.gate.wait_if_paused()
            try:
                async with self.in_flight:
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                attempts += 1
                if attempts > MAX_RETRY_AFTER:
                    raise
                seconds = as_seconds(exc.retry_after)
                self.gate.pause(seconds)
                log.warning("Telegram asked to slow down: waiting %ss before %s", seconds, endpoint)


async def replay_leftovers(app: Application, assistant: Assistant) -> int:
    """Queue the updates stored but not handled before the last stop (a crash): Telegram will
    not send them again. Run after app.start(), before polling or the webhook starts."""
    bodies = await assistant.run(inbox.take_leftovers, assistant.sessions, PLATFORM)
    for body in bodies:
        await app.update_queue.put_stored(Update.de_json(body, app.bot))
    if bodies:
        log.info("handling %d updates received before the last stop", len(bodies))
    return len(bodies)


def to_incoming(update: Update) -> Incoming | None:
    """Translate a Telegram update into what the resident did."""
    if update.callback_query is not None:
        return Incoming.button(update.callback_query.data or "")
    message = update.message
    if message is None:
        return None  # edited messages, channel posts, member updates: nothing to answer
    if message.text is not None:
        return Incoming.parse_typed(message.text)
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return Incoming.unsupported("voice" if kind == "video_note" else kind)
    return Incoming.unsupported("other")


async def recording(message: Message) -> Incoming:
    """An official's voice note or audio file after /ghiam, fetched (b"", refused kindly, if it
    cannot be). Only then is a file downloaded: residents' voice notes are never fetched."""
    sound = message.voice or message.audio
    if sound is not None and (sound.file_size or 0) > AUDIO_MAX_BYTES:
        return Incoming.recording(b"", too_large=True)
    try:
        return Incoming.recording(bytes(await (await sound.get_file()).download_as_bytearray()))
    except (TelegramError, AttributeError) as exc:
        log.info("could not fetch a recording: %s", type(exc).__name__)
        return Incoming.recording(b"")


def to_contact(update: Update) -> Contact | None:
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return None  # the bot teaches one resident at a time, in private chats
    user = update.effective_user
    return Contact(PLATFORM, str(chat.id), user.first_name if user else None)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Link and callback buttons; a button with only a share code is shown in the text (shown_text)."""
    return _keyboard(tuple(tuple(row) for row in reply.buttons))


@lru_cache(maxsize=KEYBOARDS_KEPT)
def _keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """Built once per set of buttons: most replies are a step's or the menu's, the same for every
    resident. Telegram objects are immutable, so one markup can go with many messages."""
    rows = [[InlineKeyboardButton(b.label, url=b.url) if b.url else InlineKeyboardButton(b.label, callback_data=b.data)
             for b in row if b.url or b.data] for row in buttons]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def shown_text(reply: Reply) -> str:
    """The text, with the share codes of buttons that have no link to open (no bot username)."""
    return with_codes(reply, translator("vi"), links=True).text


def fit(text: str) -> str:
    limit = MessageLimit.MAX_TEXT_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def send_replies(update: Update, replies: list[Reply], media: MediaLibrary | None = None) -> None:
    """Edit the pressed message in place where asked and possible; send the rest. A picture goes
    before its text, a voice note after it (a "🔊 Nghe" reply is the voice note alone)."""
    query = update.callback_query
    chat_id = update.effective_chat.id
    bot = update.get_bot()
    for reply in replies:
        if reply.image is not None and media is not None:
            await send_picture(bot, chat_id, reply, media)
        if reply.text:
            await send_text(bot, chat_id, query, reply)
        if reply.audio is not None and media is not None:
            await send_voice(bot, chat_id, reply, media)


async def send_picture(bot, chat_id: int, reply: Reply, media: MediaLibrary) -> None:
    path = media.picture_file(reply.image)
    if path is not None:
        await bot.send_photo(chat_id, path.read_bytes(), caption=reply.image.caption[:MessageLimit.CAPTION_LENGTH])


async def send_voice(bot, chat_id: int, reply: Reply, media: MediaLibrary) -> None:
    """A voice note (OGG/Opus: the only format Telegram shows as one), made in a worker thread."""
    voice = await asyncio.to_thread(media.voice, reply.audio, OPUS)
    if voice is None:
        await bot.send_message(chat_id, translator("vi")(NO_AUDIO))
        return
    caption = f"🔊 {reply.audio.title}"[:MessageLimit.CAPTION_LENGTH] if reply.audio.title and not reply.text else None
    await bot.send_voice(chat_id, voice.path.read_bytes(), filename=voice.name, caption=caption)


async def send_text(bot, chat_id: int, query, reply: Reply) -> None:
    target: Message | None = query.message if (reply.edit and query and query.message) else None
    if isinstance(target, Message):
        try:
            await target.edit_text(fit(shown_text(reply)), reply_markup=keyboard(reply))
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return  # a double tap asked for the same text: nothing to do
            log.info("edit failed, sending instead: %s", exc)
    await bot.send_message(chat_id, fit(shown_text(reply)), reply_markup=keyboard(reply))


class TelegramAdapter:
    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    async def done_with(self, update: Update) -> None:
        """An update the core does not handle is deleted from the inbox here instead."""
        await self.assistant.run(self.assistant.discard_update, PLATFORM, update.update_id)

    async def on_flood(self, update: Update, first: bool) -> None:
        await self.done_with(update)
        chat = update.effective_chat
        if first and chat is not None and chat.type == "private":
            try:
                await update.get_bot().send_message(chat.id, translator("vi")(FLOOD))
            except TelegramError as exc:
                log.info("could not answer a flood: %s", type(exc).__name__)

    async def on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """"@bot vneid" typed in any chat: guide cards to send. In a private chat the user's id
        is the chat id the resident is known by."""
        inline = update.inline_query
        if self.assistant.bot_username is None:
            self.assistant.bot_username = context.bot.username
        contact = Contact(PLATFORM, str(inline.from_user.id), inline.from_user.first_name)
        cards = await self.assistant.inline_cards_async(contact, inline.query or "")
        results = [InlineQueryResultArticle(
            id=card.id, title=card.title, description=card.description,
            input_message_content=InputTextMessageContent(fit(card.text)),
            reply_markup=keyboard(Reply(card.text, card.buttons)))
            for card in cards]
        try:
            await inline.answer(results, cache_time=0, is_personal=True)
        except TelegramError as exc:
            log.info("answerInlineQuery failed: %s", exc)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.inline_query is not None:
            await self.done_with(update)
            await self.on_inline_query(update, context)
            return
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner at once; on a weak signal the reply may take a while.
            try:
                await query.answer()
            except TelegramError as exc:
                log.info("answerCallbackQuery failed: %s", exc)
        contact = to_contact(update)
        incoming = to_incoming(update)
        if contact is None or incoming is None:
            await self.done_with(update)
            return
        log.debug("update %d: %s", update.update_id, incoming.kind)   # the kind only, never the text
        if incoming.what in ("voice", "audio") and await self.assistant.run(self.assistant.awaits_recording, contact):
            incoming = await recording(update.message)
        if self.assistant.bot_username is None:
            self.assistant.bot_username = context.bot.username  # share links: t.me/<bot>?start=...
        replies = await self.assistant.handle_async(contact, incoming, (PLATFORM, update.update_id))
        try:
            await send_replies(update, replies, self.assistant.media)
        except Forbidden:
            log.info("resident has blocked the bot; reply dropped")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Log the error type only: messages may quote what residents typed.
        log.error("error while handling an update: %s", type(context.error).__name__,
                  exc_info=(type(context.error), context.error, context.error.__traceback__))
        if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
            _ = translator("vi")
            try:
                await context.bot.send_message(
                    update.effective_chat.id, _("Sorry, something went wrong on my side. "
                                                "Please try again in a moment."))
            except TelegramError:
                pass


def build_application(settings: Settings, assistant: Assistant, *, polling: bool = True,
                      gate: SendGate | None = None, storage: StorageCheck | None = None) -> Application:
    """The python-telegram-bot Application. `gate` is the process's send gate, shared with the
    outbox sender (a gate of its own if none is given)."""
    base = settings.telegram_api_url.rstrip("/")
    processor = PerChatUpdateProcessor()
    polled = UpdatesRequest() if polling else None
    builder: ApplicationBuilder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .update_queue(DurableUpdateQueue(assistant, storage, polled))
        .rate_limiter(ReplyPacer(gate or SendGate(settings.send_rate)))
        .concurrent_updates(processor)
        .connection_pool_size(CONNECTIONS)
        .read_timeout(15)
        .write_timeout(15)
        .connect_timeout(10)
        .pool_timeout(10)
    )
    if polling:
        builder = builder.get_updates_request(polled)
    else:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data["assistant"] = assistant
    adapter = TelegramAdapter(assistant)
    processor.on_flood = adapter.on_flood
    app.add_handler(TypeHandler(Update, adapter.on_update))
    app.add_error_handler(adapter.on_error)
    return app
