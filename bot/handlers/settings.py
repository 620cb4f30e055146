"""/caidat: the resident's settings: lesson reminders, and in the web chat, notifications."""
from __future__ import annotations

from sqlalchemy import delete

from bot.button_data import Action, encode
from bot.channels.reach import WEB, can_reach
from bot.handlers import listen, progress_code
from bot.handlers.turn import Turn
from bot.models import WebPushSubscription
from bot.replies import Button, Reply


def show_settings(turn: Turn, args=None) -> list[Reply]:
    _ = turn._
    edit = isinstance(args, list)
    if turn.resident is None:
        return [Reply(_("I keep no data about you, so I never send you reminders."),
                      [[Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]
    reachable = can_reach(turn.session, turn.resident)
    if not reachable:
        # The web chat answers only when asked: promise reminders only once the browser takes them.
        text, rows = unreachable_note(turn), notify_rows(turn)
    elif turn.resident.reminders:
        text = _("🔔 Lesson reminders are on: if you stop in the middle of a lesson, I remind you after a "
                 "few days, at most once a week, never at night.")
        rows = [[Button(_("🔕 Turn reminders off"), encode(Action.REMINDERS, 0))]]
    else:
        text = _("🔕 Lesson reminders are off.")
        rows = [[Button(_("🔔 Turn reminders on"), encode(Action.REMINDERS, 1))]]
    if turn.resident.platform == WEB and reachable:
        rows.append([Button(_("🔕 No notifications on this phone"), encode(Action.NOTIFY, 0))])
    rows += listen.mode_row(turn)
    if (note := listen.mode_note(turn)) is not None:
        text = f"{text}\n\n{note}"
    rows.append([Button(_("📲 Move my progress to another device"), encode(Action.MOVE, progress_code.NEW))])
    return [Reply(text, [*rows, [Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]


def unreachable_note(turn: Turn) -> str:
    """What a web chat resident whose browser takes no notifications is told instead of a promise."""
    _ = turn._
    if turn.public_url:   # Web Push is on: the page can ask the browser
        return _("This chat page can only answer you: it cannot remind you yet. Tap «Turn on notifications» "
                 "and allow them when your phone asks. On Zalo or Telegram, the assistant can remind you too.")
    return _("This chat page can only answer you: it cannot send you reminders or news. Open it again "
             "whenever you want to learn. On Zalo or Telegram, the assistant can remind you.")


def notify_rows(turn: Turn) -> list[list[Button]]:
    """The button that asks this browser for notifications, where the server can send them. The
    page asks the browser first (chat.html), then sends the button."""
    if not turn.public_url:
        return []
    return [[Button(turn._("🔔 Turn on notifications"), encode(Action.NOTIFY, 1))]]


def set_notifications(turn: Turn, args: list[str]) -> list[Reply]:
    """nt:1 after the page subscribed this browser (or failed to); nt:0 turns them off here."""
    _ = turn._
    if turn.resident is None or turn.resident.platform != WEB:
        return show_settings(turn, args)
    if args[:1] == ["0"]:
        turn.session.execute(delete(WebPushSubscription).where(WebPushSubscription.resident_id == turn.resident.id))
        turn.session.flush()
        note = _("🔕 Notifications are off on this phone. I answer whenever you write.")
    elif can_reach(turn.session, turn.resident):
        note = _("🔔 Notifications are on for this phone: reminders and the commune's news will appear "
                 "even when this page is closed.")
    else:
        note = _("I could not turn on notifications in this browser: it may not allow them, or they were "
                 "blocked. You can still learn here any time.")
    settings = show_settings(turn, args)[0]
    return [Reply(note + "\n\n" + settings.text, settings.buttons, edit=settings.edit)]


def set_reminders(turn: Turn, args: list[str]) -> list[Reply]:
    """rm:1 turns reminders on, rm:0 off; also pressed from the reminder itself."""
    if turn.resident is not None:
        turn.resident.reminders = bool(args) and args[0] == "1"
    return show_settings(turn, args)
