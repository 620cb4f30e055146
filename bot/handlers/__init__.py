"""Routing: which handler answers which command or button.

Commands get (turn, args_text); buttons get (turn, data_parts). Button data is short,
colon-separated and names its target, so replaying a button is harmless.
"""
from __future__ import annotations

from bot.handlers import (account, ambassador, ask, course, events, household, language, menu, profile, quiz,
                          settings, start)

COMMANDS = {
    "start": start.greet,
    "menu": menu.show_menu,
    "hoctiep": course.resume,
    "tiendo": account.show_progress,
    "trogiup": account.show_help,
    "help": account.show_help,
    "hoso": profile.start_profile,
    "xoadulieu": account.ask_delete,
    "ngonngu": language.ask_language,
    "sukien": events.show_events,
    "caidat": settings.show_settings,
    "daisuso": ambassador.ambassador_command,
    "giadinh": household.show_household,
}

BUTTONS = {
    "c": start.answer_consent,
    "pv": profile.village_page,
    "v": profile.choose_village,
    "g": profile.choose_group,
    "a": profile.choose_age,
    "ps": profile.skip_question,
    "m": menu.show_menu_button,
    "o": course.open_course,
    "s": course.show_step,
    "q": quiz.start_quiz,
    "qa": quiz.answer,
    "t": account.show_progress,
    "h": account.show_help,
    "x": account.confirm_delete,
    "l": language.choose_language,
    "f": ask.show_faq,
    "vo": ask.vote,
    "ev": events.toggle_reminders,
    "cert": account.report_certified,
    "rm": settings.set_reminders,
    "sh": ambassador.share,
    "hs": ambassador.log_session,
    "gd": household.household_button,
}
