"""/ngonngu: choose the language. Content falls back to Vietnamese where not translated."""
from __future__ import annotations

from sqlalchemy import select

from bot.button_data import Action, encode
from bot.handlers.fallback import stale_or_unknown_button
from bot.handlers.menu import menu_reply
from bot.handlers.turn import Turn
from bot.i18n import available_languages
from bot.models import Recording
from bot.replies import Button, Reply


def offered(turn: Turn) -> list:
    """Languages with menus or lessons to read, and those with lessons to hear only (recordings by
    people, in a knowledge/<lang>/audio/ folder or uploaded by officials): read in Vietnamese."""
    heard = set(turn.knowledge.audio_languages) | set(turn.session.scalars(select(Recording.language).distinct()))
    usable = set(available_languages()) | set(turn.knowledge.languages) | heard
    return [lang for lang in turn.knowledge.language_names if lang.code in usable]


def ask_language(turn: Turn, args: str = "") -> list[Reply]:
    rows = [[Button(("✅ " if lang.code == turn.language else "") + lang.name, encode(Action.LANGUAGE, lang.code))]
            for lang in offered(turn)]
    return [Reply(turn._("Choose your language:"), rows)]


def choose_language(turn: Turn, args: list[str]) -> list[Reply]:
    code = args[0] if args else ""
    if code not in {lang.code for lang in offered(turn)}:
        return stale_or_unknown_button(turn)
    if turn.resident is None:
        return [menu_reply(turn, turn._("To remember your language I need to keep your data. "
                                        "Send /start and tap \"Yes\" if you agree."), edit=True)]
    turn.resident.language = code
    return [menu_reply(turn, turn._("Language changed. What would you like to learn?"), edit=True)]
