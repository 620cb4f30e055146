"""Anything we cannot act on gets a short, friendly answer and the menu. Nothing crashes."""
from __future__ import annotations

from bot.handlers.menu import menu_reply
from bot.handlers.turn import Turn
from bot.i18n import N_
from bot.replies import Reply

MAX_TEXT_CHARS = 1000

OTHER_INPUT = N_("I can only read text and button taps.")
UNSUPPORTED = {
    "photo": N_("I cannot look at photos yet."),
    "sticker": N_("Nice sticker! 😊 I can only read text."),
    "voice": N_("I cannot listen to voice messages yet."),
    "audio": N_("I cannot listen to voice messages yet."),
    "video": N_("I cannot watch videos yet."),
    "location": N_("Thank you, but I do not need your location."),
    "contact": N_("Thank you, but I do not need phone numbers. Please do not send personal data."),
    "document": N_("I cannot open files yet."),
}


def unsupported(turn: Turn, what: str) -> list[Reply]:
    _ = turn._
    first = _(UNSUPPORTED.get(what, OTHER_INPUT))
    return [menu_reply(turn, first + "\n" + _("Please tap a button below, or type a short question."))]


def unknown_command(turn: Turn, name: str) -> list[Reply]:
    return [menu_reply(turn, turn._("I do not know the command /{name}. Send /trogiup to see what I can do.")
                       .format(name=name[:32]))]


def stale_or_unknown_button(turn: Turn) -> list[Reply]:
    return [menu_reply(turn, turn._("That button is out of date. Here is the menu."))]
