"""Routing: which handler answers which command or button.

Commands get (turn, args_text); buttons get (turn, args), as bot.button_data decodes them.
"""
from __future__ import annotations

from bot.button_data import Action
from bot.handlers import (account, ambassador, ask, course, events, household, language, menu, profile, quiz,
                          settings, start)
from bot.handlers import listen, progress_code, recording

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
    "matiendo": progress_code.command,
    "ghiam": recording.command,
}

BUTTONS = {
    Action.CONSENT: start.answer_consent,
    Action.VILLAGE_PAGE: profile.village_page,
    Action.VILLAGE: profile.choose_village,
    Action.GROUP: profile.choose_group,
    Action.AGE: profile.choose_age,
    Action.PROFILE_SKIP: profile.skip_question,
    Action.MENU: menu.show_menu_button,
    Action.OPEN_COURSE: course.open_course,
    Action.STEP: course.show_step,
    Action.QUIZ: quiz.start_quiz,
    Action.QUIZ_ANSWER: quiz.answer,
    Action.PROGRESS: account.show_progress,
    Action.HELP: account.show_help,
    Action.DELETE: account.confirm_delete,
    Action.LANGUAGE: language.choose_language,
    Action.FAQ: ask.show_faq,
    Action.VOTE: ask.vote,
    Action.EVENT: events.toggle_reminders,
    Action.CERTIFIED: account.report_certified,
    Action.REMINDERS: settings.set_reminders,
    Action.SHARE: ambassador.share,
    Action.HANDS_ON: ambassador.log_session,
    Action.HOUSEHOLD: household.household_button,
    Action.NOTIFY: settings.set_notifications,
    Action.MOVE: progress_code.button,
    Action.LISTEN: listen.play,
    Action.LISTEN_MODE: listen.set_mode,
}
