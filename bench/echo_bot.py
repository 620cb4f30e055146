"""Baseline for bench_pipeline.py: a bare python-telegram-bot echo bot.

It echoes text, and for a button press answers the callback and edits the message,
so it makes the same Bot API calls per update as the real bot. It gets the same
per-chat concurrency as the real bot, so the baseline is not handicapped.
"""
from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)


async def echo_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    await query.edit_message_text(f"echo {query.data}")


def main() -> None:
    base = os.environ["TELEGRAM_API_URL"].rstrip("/")
    app = (Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(f"{base}/bot")
           .concurrent_updates(256).connection_pool_size(64).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(echo_button))
    print("echo bot ready", flush=True)
    app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=25, poll_interval=0)


if __name__ == "__main__":
    main()
