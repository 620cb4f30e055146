"""Telegram adapter: python-telegram-bot in, core replies out.

Long polling by default; webhook mode posts updates into the same Application from the
ASGI app (see bot/web.py). Updates from one chat are handled strictly in order.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle, InputTextMessageContent,
                      Message, Update)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, ContextTypes, TypeHandler

from bot.assistant import Assistant
from bot.config import Settings
from bot.i18n import translator
from bot.ordering import KeyedLocks
from bot.replies import Contact, Incoming, Reply

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_CONCURRENT_UPDATES = 256
UNSUPPORTED_KINDS = ("photo", "sticker", "voice", "audio", "video", "video_note", "animation",
                     "document", "location", "venue", "contact", "poll", "dice")


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Different chats run concurrently; one chat's updates run one at a time, in order."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES):
        super().__init__(max_concurrent_updates)
        self._chats = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = None
        if isinstance(update, Update):
            chat = update.effective_chat
            user = update.effective_user
            key = chat.id if chat else (user.id if user else None)
        if key is None:
            await coroutine
            return
        async with self._chats(key):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


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


def to_contact(update: Update) -> Contact | None:
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return None  # the bot teaches one resident at a time, in private chats
    user = update.effective_user
    return Contact(PLATFORM, str(chat.id), user.first_name if user else None)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, url=b.url) if b.url else InlineKeyboardButton(b.label, callback_data=b.data)
          for b in row] for row in reply.buttons]
    )


def _fit(text: str) -> str:
    limit = MessageLimit.MAX_TEXT_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def send_replies(update: Update, replies: list[Reply]) -> None:
    """Edit the pressed message in place where asked and possible; send the rest."""
    query = update.callback_query
    chat_id = update.effective_chat.id
    bot = update.get_bot()
    for reply in replies:
        target: Message | None = query.message if (reply.edit and query and query.message) else None
        if isinstance(target, Message):
            try:
                await target.edit_text(_fit(reply.text), reply_markup=keyboard(reply))
                continue
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    continue  # a double tap asked for the same text: nothing to do
                log.info("edit failed, sending instead: %s", exc)
        await bot.send_message(chat_id, _fit(reply.text), reply_markup=keyboard(reply))


class TelegramAdapter:
    def __init__(self, assistant: Assistant):
        self.assistant = assistant

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
            input_message_content=InputTextMessageContent(_fit(card.text)),
            reply_markup=keyboard(Reply(card.text, card.buttons)))
            for card in cards]
        try:
            await inline.answer(results, cache_time=0, is_personal=True)
        except TelegramError as exc:
            log.info("answerInlineQuery failed: %s", exc)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.inline_query is not None:
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
            return
        if self.assistant.bot_username is None:
            self.assistant.bot_username = context.bot.username  # share links: t.me/<bot>?start=...
        replies = await self.assistant.handle_async(contact, incoming, (PLATFORM, update.update_id))
        try:
            await send_replies(update, replies)
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


def build_application(settings: Settings, assistant: Assistant, *, polling: bool = True) -> Application:
    base = settings.telegram_api_url.rstrip("/")
    builder: ApplicationBuilder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .concurrent_updates(PerChatUpdateProcessor())
        .connection_pool_size(64)
        .read_timeout(15)
        .write_timeout(15)
        .connect_timeout(10)
        .pool_timeout(10)
    )
    if not polling:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data["assistant"] = assistant
    adapter = TelegramAdapter(assistant)
    app.add_handler(TypeHandler(Update, adapter.on_update))
    app.add_error_handler(adapter.on_error)
    return app
