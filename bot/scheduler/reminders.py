"""Reminders queued into the outbox: lessons left unfinished, and report deadlines for officials.

Everything is derived from the database at the time the job runs, so a restart loses nothing
and a late run still queues what is due. Dedupe keys stop a second copy.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.button_data import Action, encode
from bot.content import Knowledge
from bot.channels.reach import reachable
from bot.i18n import translator
from bot.models import Completion, OutboxMessage, Progress, Resident
from bot.quiet import after_quiet_hours

REMINDER_GAP = timedelta(days=7)        # at most one lesson reminder a week
DEADLINES = ((6, 8), (12, 8))           # the plan's reports: before 08/6 and before 08/12
DEADLINE_OFFSETS = (14, 3)              # days before
DEADLINE_HOUR = time(8, 0)


def _commit(session: Session) -> bool:
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()  # queued by another process in the meantime
        return False


def queue_lesson_reminders(sessions: sessionmaker[Session], knowledge: Knowledge, tz: ZoneInfo,
                           quiet: tuple[time, time], now: datetime, idle_days: int) -> int:
    """Residents idle `idle_days` in a course they started and did not finish."""
    idle_since = now - timedelta(days=idle_days)
    unfinished = and_(Progress.resident_id == Resident.id,
                      ~exists().where(Completion.resident_id == Progress.resident_id,
                                      Completion.course_id == Progress.course_id))
    latest = (select(Progress.resident_id, func.max(Progress.updated_at).label("last"))
              .group_by(Progress.resident_id).subquery())
    due = after_quiet_hours(now, tz, quiet)
    queued = 0
    with sessions() as session:
        residents = session.scalars(
            select(Resident).join(latest, latest.c.resident_id == Resident.id)
            .where(Resident.active.is_(True), Resident.reminders.is_(True), reachable(),
                   Resident.last_seen_at <= idle_since, latest.c.last <= idle_since,
                   (Resident.last_reminded_at.is_(None)) | (Resident.last_reminded_at <= now - REMINDER_GAP),
                   exists().where(unfinished))).all()
        for resident in residents:
            progress = session.scalars(select(Progress).where(unfinished, Progress.resident_id == resident.id)
                                       .order_by(Progress.updated_at.desc())).first()
            pack = knowledge.pack(resident.language)
            course = pack.courses.get(progress.course_id) if progress else None
            if course is None:
                continue
            _ = translator(resident.language)
            step = min(progress.step_index, len(course.steps) - 1)
            text = _("👋 Hello{name}! You were learning «{course}» (step {n} of {total}). "
                     "Shall we go on? It takes a few minutes.").format(
                name=f" {resident.first_name}" if resident.first_name else "", course=course.button,
                n=step + 1, total=len(course.steps))
            session.add(OutboxMessage(
                kind="reminder", resident_id=resident.id, text=text, due_at=due, status="queued", attempts=0,
                buttons=[[_("▶️ Continue"), encode(Action.STEP, course.id, step)],
                         [_("🔕 No more reminders"), encode(Action.REMINDERS, 0)]],
                dedupe_key=f"reminder:{resident.id}:{now.astimezone(tz).date().isoformat()}"))
            resident.last_reminded_at = now
            queued += 1
        return queued if _commit(session) else 0


def _deadlines(today: date) -> list[date]:
    return sorted(date(year, month, day) for year in (today.year, today.year + 1) for month, day in DEADLINES)


def queue_deadline_reminders(sessions: sessionmaker[Session], knowledge: Knowledge, tz: ZoneInfo,
                             quiet: tuple[time, time], now: datetime) -> int:
    """Village officials who use the bot: two weeks and three days before each report is due."""
    local_today = now.astimezone(tz).date()
    queued = 0
    with sessions() as session:
        for deadline in _deadlines(local_today):
            for days in DEADLINE_OFFSETS:
                start = datetime.combine(deadline - timedelta(days=days), DEADLINE_HOUR, tz).astimezone(timezone.utc)
                if not (start <= now < start + timedelta(days=1)):
                    continue
                officials = session.scalars(select(Resident).where(
                    Resident.official.is_(True), Resident.active.is_(True), reachable())).all()
                for official in officials:
                    key = f"deadline:{deadline}:{days}:{official.id}"
                    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
                        continue
                    _ = translator(official.language)
                    kind = _("six-monthly") if deadline.month == 6 else _("yearly")
                    assistant = knowledge.pack(official.language).assistant
                    text = _("📝 Reminder: the {kind} report on the «{movement}» movement is due before "
                             "{date} ({days} days left). The commune can download the figures from the "
                             "admin API (report as Word or Excel).").format(
                        kind=kind, movement=assistant.movement_name, date=deadline.strftime("%d/%m/%Y"), days=days)
                    session.add(OutboxMessage(kind="deadline", resident_id=official.id, text=text,
                                              due_at=after_quiet_hours(now, tz, quiet), status="queued",
                                              attempts=0, dedupe_key=key))
                    queued += 1
        return queued if _commit(session) else 0
