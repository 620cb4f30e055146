"""/caidat: the resident's settings. For now: lesson reminders on or off."""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers.turn import Turn
from bot.replies import Button, Reply


def show_settings(turn: Turn, args=None) -> list[Reply]:
    _ = turn._
    edit = isinstance(args, list)
    if turn.resident is None:
        return [Reply(_("I keep no data about you, so I never send you reminders."),
                      [[Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]
    if turn.resident.reminders:
        text = _("🔔 Lesson reminders are on: if you stop in the middle of a lesson, I remind you after a "
                 "few days, at most once a week, never at night.")
        toggle = Button(_("🔕 Turn reminders off"), encode(Action.REMINDERS, 0))
    else:
        text = _("🔕 Lesson reminders are off.")
        toggle = Button(_("🔔 Turn reminders on"), encode(Action.REMINDERS, 1))
    return [Reply(text, [[toggle], [Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]


def set_reminders(turn: Turn, args: list[str]) -> list[Reply]:
    """rm:1 turns reminders on, rm:0 off; also pressed from the reminder itself."""
    if turn.resident is not None:
        turn.resident.reminders = bool(args) and args[0] == "1"
    return show_settings(turn, args)
