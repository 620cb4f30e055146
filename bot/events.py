"""Events: the yearly ones made automatically, and announcements queued for subscribers.

Announcements go out 7 days before, 1 day before and on the morning of an event. Each one is
an outbox row with a dedupe key, so a job that runs twice, or late, never queues twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, exists, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.reach import reachable
from bot.content import Knowledge
from bot.fanout import in_windows
from bot.i18n import N_, translator
from bot.models import Event, EventSubscription, OutboxMessage, Resident
from bot.quiet import after_quiet_hours


@dataclass(frozen=True)
class Offset:
    key: str
    days_before: int
    at: time
    heading: str


MORNING = time(7, 0)
OFFSETS = (Offset("7d", 7, time(8, 0), N_("📣 In one week:")),
           Offset("1d", 1, time(8, 0), N_("📣 Tomorrow:")),
           Offset("0d", 0, MORNING, N_("📣 Today:")))


def ensure_yearly_events(session: Session, knowledge: Knowledge, tz: ZoneInfo, today: date) -> int:
    """Create this year's and next year's yearly events (10/10 ...) if missing; returns how many."""
    made = 0
    for spec in (knowledge.events.yearly if knowledge.events else []):
        for year in (today.year, today.year + 1):
            key = f"{spec.key}-{year}"
            if session.scalar(select(Event.id).where(Event.yearly_key == key)) is not None:
                continue
            starts = datetime.combine(date(year, spec.month, spec.day), time.fromisoformat(spec.time), tz)
            session.add(Event(title=spec.title, description=spec.description, location="",
                              starts_at=starts.astimezone(timezone.utc), yearly_key=key))
            made += 1
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another process made them at the same moment
        return 0
    return made


def upcoming(session: Session, now: datetime, village_id: str | None, limit: int = 5) -> list[Event]:
    """Events not yet started, for the whole commune or the resident's village."""
    where = or_(Event.village_id.is_(None), Event.village_id == village_id) if village_id else Event.village_id.is_(None)
    return list(session.scalars(select(Event).where(Event.starts_at > now, where)
                                .order_by(Event.starts_at).limit(limit)))


def announcement_text(event: Event, heading: str, language: str, tz: ZoneInfo) -> str:
    _ = translator(language)
    local = event.starts_at.astimezone(tz)
    lines = [_(heading), f"📅 {event.title}", "🕗 " + _("{time} on {date}").format(
        time=local.strftime("%H:%M"), date=local.strftime("%d/%m/%Y"))]
    if event.location:
        lines.append(f"📍 {event.location}")
    if event.description:
        lines += ["", event.description]
    return "\n".join(lines)


def announcement_times(event: Event, tz: ZoneInfo) -> list[tuple[Offset, datetime]]:
    """When each announcement of the event goes out (before quiet hours are applied)."""
    return [(offset, _due(event, offset, tz)) for offset in OFFSETS]


def _due(event: Event, offset: Offset, tz: ZoneInfo) -> datetime:
    day = event.starts_at.astimezone(tz).date() - timedelta(days=offset.days_before)
    return datetime.combine(day, offset.at, tz).astimezone(timezone.utc)


def queue_announcements(sessions: sessionmaker[Session], now: datetime, tz: ZoneInfo,
                        quiet: tuple[time, time]) -> int:
    """Queue the announcements that are due now for every subscriber; returns how many rows.

    An offset is due from its time until the next offset's (so a late run still sends it, but a
    resident who subscribes the day before does not get "in one week"). Subscribers are queued
    window by window (bot/fanout.py); the dedupe key makes a second run, or a run cut short and
    run again, queue only who is missing.
    """
    horizon = now + timedelta(days=max(o.days_before for o in OFFSETS) + 1)
    with sessions() as session:
        events = session.scalars(select(Event).where(Event.starts_at > now, Event.starts_at <= horizon)).all()
        session.expunge_all()
    queued = 0
    for event in events:
        dues = [_due(event, o, tz) for o in OFFSETS] + [event.starts_at]
        for i, offset in enumerate(OFFSETS):
            if dues[i] <= now < dues[i + 1]:
                queued += _queue_offset(sessions, event, offset, now, tz, quiet)
    return queued


def _queue_offset(sessions: sessionmaker[Session], event: Event, offset: Offset, now: datetime, tz: ZoneInfo,
                  quiet: tuple[time, time]) -> int:
    prefix = f"event:{event.id}:{offset.key}:"
    subscribers = select(EventSubscription.resident_id).where(EventSubscription.event_id == event.id)
    with sessions() as session:
        languages = session.scalars(select(Resident.language).distinct().join(
            EventSubscription, EventSubscription.resident_id == Resident.id)
            .where(EventSubscription.event_id == event.id)).all()
    texts = {language: announcement_text(event, offset.heading, language, tz) for language in languages}
    due = after_quiet_hours(now, tz, quiet)

    def write(session: Session, after: int, end: int) -> int:
        key = literal(prefix) + cast(Resident.id, String)
        text = case(*((Resident.language == language, literal(t)) for language, t in texts.items()))
        rows = (select(literal("event"), Resident.id, text, literal(due), literal("queued"), literal(0), key)
                .join(EventSubscription, EventSubscription.resident_id == Resident.id)
                .where(EventSubscription.event_id == event.id, Resident.id > after, Resident.id <= end,
                       Resident.language.in_(list(texts)), Resident.active.is_(True), reachable(),
                       ~exists().where(OutboxMessage.dedupe_key == key)))
        # Counted from RETURNING: psycopg reports no rowcount for an INSERT ... SELECT.
        return len(session.execute(insert(OutboxMessage).from_select(
            ["kind", "resident_id", "text", "due_at", "status", "attempts", "dedupe_key"], rows)
            .returning(OutboxMessage.id)).all())

    return in_windows(sessions, subscribers, write) if texts else 0
