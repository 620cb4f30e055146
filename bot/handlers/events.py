"""/sukien: upcoming events, and a button to get (or stop) their announcements."""
from __future__ import annotations

from sqlalchemy import select

from bot.button_data import Action, encode
from bot.channels.reach import can_reach
from bot.events import upcoming
from bot.handlers.settings import notify_rows
from bot.handlers.turn import Turn, small_number
from bot.models import Event, EventSubscription
from bot.replies import Button, Reply

TITLE_ON_BUTTON = 28


def _short(title: str) -> str:
    return title if len(title) <= TITLE_ON_BUTTON else title[:TITLE_ON_BUTTON - 1] + "…"


def show_events(turn: Turn, args=None) -> list[Reply]:
    _ = turn._
    edit = isinstance(args, list)
    village = turn.resident.village_id if turn.resident else None
    events = upcoming(turn.session, turn.now, village)
    reachable = can_reach(turn.session, turn.resident)
    if not events:
        text = (_("There are no upcoming events yet. I will tell you when the commune adds one.") if reachable
                else _("There are no upcoming events yet. Look here again later."))
        return [Reply(text, [[Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]
    subscribed = set()
    if turn.resident is not None:
        subscribed = set(turn.session.scalars(select(EventSubscription.event_id).where(
            EventSubscription.resident_id == turn.resident.id, EventSubscription.event_id.in_([e.id for e in events]))))
    lines = [_("📅 Upcoming events:")]
    rows: list[list[Button]] = []
    for event in events:
        local = event.starts_at.astimezone(turn.tz)
        line = f"\n• {event.title}\n  🕗 " + _("{time} on {date}").format(
            time=local.strftime("%H:%M"), date=local.strftime("%d/%m/%Y"))
        if event.location:
            line += f"\n  📍 {event.location}"
        lines.append(line)
        if turn.resident is not None and (reachable or event.id in subscribed):
            if event.id in subscribed:
                rows.append([Button(_("🔕 Stop reminders: {event}").format(event=_short(event.title)),
                                    encode(Action.EVENT, event.id, 0))])
            else:
                rows.append([Button(_("🔔 Remind me: {event}").format(event=_short(event.title)),
                                    encode(Action.EVENT, event.id, 1))])
    if turn.resident is None:
        lines.append("\n" + _("To get reminders, I need to keep a little data: send /start and tap \"Yes\"."))
    elif not reachable:   # the web chat, with no notifications: no "Remind me" it cannot keep
        lines.append("\n" + _("This chat page cannot remind you of events: please note the date."))
        rows.extend(notify_rows(turn))
    rows.append([Button(_("🏠 Menu"), encode(Action.MENU))])
    return [Reply("\n".join(lines), rows, edit=edit)]


def toggle_reminders(turn: Turn, args: list[str]) -> list[Reply]:
    """ev:<event id>:1 subscribes, ev:<event id>:0 unsubscribes; pressing twice changes nothing."""
    event_id = small_number(args[0]) if args else None
    event = turn.session.get(Event, event_id) if event_id else None
    if turn.resident is not None and event is not None:
        subscription = turn.session.get(EventSubscription, (event.id, turn.resident.id))
        wanted = len(args) > 1 and args[1] == "1"
        if wanted and subscription is None:
            turn.session.add(EventSubscription(event_id=event.id, resident_id=turn.resident.id))
        elif not wanted and subscription is not None:
            turn.session.delete(subscription)
        turn.session.flush()
    return show_events(turn, args)
