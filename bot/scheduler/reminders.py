"""Reminders queued into the outbox: lessons left unfinished, and report deadlines for officials.

Everything is derived from the database at the time the job runs, so a restart loses nothing
and a late run still queues what is due. Dedupe keys stop a second copy.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Integer, Text, bindparam, cast, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.button_data import Action, encode
from bot import fanout
from bot.content import Knowledge
from bot.channels.reach import reachable
from bot.i18n import translator
from bot.models import Completion, OutboxMessage, Progress, Resident
from bot.quiet import after_quiet_hours

REMINDER_GAP = timedelta(days=7)        # at most one lesson reminder a week
DEADLINES = ((6, 8), (12, 8))           # the plan's reports: before 08/6 and before 08/12
DEADLINE_OFFSETS = (14, 3)              # days before
DEADLINE_HOUR = time(8, 0)
NAME = "\x00name\x00"     # where a resident's name goes in a reminder made once for many


def _commit(session: Session) -> bool:
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()  # queued by another process in the meantime
        return False


def queue_lesson_reminders(sessions: sessionmaker[Session], knowledge: Knowledge, tz: ZoneInfo,
                           quiet: tuple[time, time], now: datetime, idle_days: int,
                           batch: int | None = None) -> int:
    """Residents idle `idle_days` in a course they started and did not finish.

    In windows of `batch` residents in id order, each queued in its own short write transaction
    with the residents' last_reminded_at: the write lock is held for milliseconds, so residents'
    button presses never wait on this job, and memory stays flat however many are due. A crash
    between batches loses nothing (the rest are still due at the next run) and doubles nothing
    (those queued carry last_reminded_at, and the dedupe key stops a second copy the same day).
    """
    idle_since = now - timedelta(days=idle_days)
    due = after_quiet_hours(now, tz, quiet)
    day = now.astimezone(tz).date().isoformat()
    texts = _ReminderTexts(knowledge)
    writer = None
    queued, after = 0, 0
    while True:
        with sessions() as session:   # reads only: on SQLite (WAL) it blocks no writer
            end = fanout.window_end(session, select(Resident.id), after, batch)
            if end is None:
                return queued
            latest = _latest_unfinished(session, _due_in(idle_since, now, after, end))
        with sessions.begin() as session:
            fanout.custom_plans(session)
            writer = writer or _OutboxWriter(session.get_bind().dialect, due)
            rows, reminded = [], []
            for resident_id, language, first_name, course_id, step_index in latest:
                message = texts.render(language, first_name, course_id, step_index)
                if message is not None:
                    text, buttons = message
                    rows.append(writer.row(resident_id, text, writer.json(buttons), f"reminder:{resident_id}:{day}"))
                    reminded.append(resident_id)
            if rows:
                writer.write(session, rows)
                session.execute(update(Resident).where(Resident.id.in_(reminded)).values(last_reminded_at=now))
            queued += len(rows)
        after = end


# A progress row whose course the resident has passed.
_FINISHED = exists().where(Completion.resident_id == Progress.resident_id, Completion.course_id == Progress.course_id)


def _due_in(idle_since: datetime, now: datetime, after: int, end: int):
    """The residents with ids in (after, end] due a lesson reminder: reachable, reminders on,
    not seen nor learning since `idle_since`, not reminded in the last REMINDER_GAP, with a
    course started and not finished. The window's bounds are on progress too: PostgreSQL
    otherwise merges with the whole progress table, 450 ms a window (bench/bench_scale.py)."""
    window = (Resident.id > after, Resident.id <= end)
    mine = (Progress.resident_id == Resident.id, Progress.resident_id > after, Progress.resident_id <= end)
    return (select(Resident.id)
            .where(*window, Resident.active.is_(True), Resident.reminders.is_(True), reachable(),
                   Resident.last_seen_at <= idle_since,
                   (Resident.last_reminded_at.is_(None)) | (Resident.last_reminded_at <= now - REMINDER_GAP),
                   ~exists().where(*mine, Progress.updated_at > idle_since),
                   exists().where(*mine, ~_FINISHED)))


def _latest_unfinished(session: Session, due) -> list[tuple]:
    """Per resident of the `due` query: (id, language, first name, course, step) of the
    unfinished course they touched last."""
    rows = session.execute(
        select(Resident.id, Resident.language, Resident.first_name, Progress.course_id, Progress.step_index)
        .join(Progress, Progress.resident_id == Resident.id)
        .where(Resident.id.in_(due.scalar_subquery()), ~_FINISHED)
        .order_by(Resident.id, Progress.updated_at.desc()))
    latest: dict[int, tuple] = {}
    for row in rows:
        latest.setdefault(row[0], tuple(row))
    return list(latest.values())


class _ReminderTexts:
    """A reminder's text and buttons. Only the name differs between residents at the same step
    of the same course in the same language, so the rest is made once a run."""

    def __init__(self, knowledge: Knowledge):
        self.knowledge = knowledge
        self.made: dict[tuple[str, str, int], tuple[str, list] | None] = {}

    def render(self, language: str, first_name: str | None, course_id: str,
               step_index: int) -> tuple[str, list] | None:
        made = self.made.get((language, course_id, step_index))
        if made is None and (language, course_id, step_index) not in self.made:
            made = self.made[(language, course_id, step_index)] = self._make(language, course_id, step_index)
        if made is None:
            return None     # a course since removed from knowledge/
        text, buttons = made
        return text.replace(NAME, f" {first_name}" if first_name else ""), buttons

    def _make(self, language: str, course_id: str, step_index: int) -> tuple[str, list] | None:
        course = self.knowledge.pack(language).courses.get(course_id)
        if course is None:
            return None
        _ = translator(language)
        step = min(step_index, len(course.steps) - 1)
        text = _("👋 Hello{name}! You were learning «{course}» (step {n} of {total}). "
                 "Shall we go on? It takes a few minutes.").format(
            name=NAME, course=course.button, n=step + 1, total=len(course.steps))
        return text, [[_("▶️ Continue"), encode(Action.STEP, course.id, step)],
                      [_("🔕 No more reminders"), encode(Action.REMINDERS, 0)]]


# INSERT INTO outbox ... ON CONFLICT (dedupe_key) DO NOTHING: a reminder another process queued
# the same day is skipped, not an error that would roll back the whole batch.
_INSERT_NEW = {dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(OutboxMessage.__table__).on_conflict_do_nothing(
    index_elements=["dedupe_key"]) for dialect in (postgresql, sqlite)}


class _OutboxWriter:
    """A window's reminder rows in one statement. Row by row, the drivers' executemany was half
    the job's time on SQLite (SQLAlchemy processes each row's parameters) and 140 µs a row on
    PostgreSQL (a statement each). SQLite gets the driver's own executemany of one compiled
    INSERT, with the values rows share (the due time, a step's buttons) converted once by the
    column types' own converters, so what is stored is the same; PostgreSQL gets one INSERT ...
    SELECT FROM unnest(arrays)."""

    COLUMNS = ("kind", "resident_id", "text", "buttons", "due_at", "status", "attempts", "dedupe_key")

    def __init__(self, dialect, due: datetime):
        table = OutboxMessage.__table__
        self.raw = dialect.name == "sqlite"
        self.due = due
        if self.raw:
            self.compiled = _INSERT_NEW["sqlite"].compile(dialect=dialect, column_keys=list(self.COLUMNS))
            self.due = _converted(table.c.due_at.type, dialect, due)
        self.to_json = table.c.buttons.type.bind_processor(dialect) if self.raw else json.dumps
        self.jsons: dict[int, str] = {}

    def json(self, buttons: list) -> str:
        """The stored form of a buttons list, made once per list (they are shared: _ReminderTexts)."""
        made = self.jsons.get(id(buttons))
        if made is None:
            made = self.jsons[id(buttons)] = self.to_json(buttons)
        return made

    def row(self, resident_id: int, text: str, buttons: str, dedupe_key: str):
        if self.raw:
            values = {"kind": "reminder", "resident_id": resident_id, "text": text, "buttons": buttons,
                      "due_at": self.due, "status": "queued", "attempts": 0, "dedupe_key": dedupe_key}
            return tuple(values[name] for name in self.compiled.positiontup)
        return resident_id, text, buttons, dedupe_key

    def write(self, session: Session, rows: list) -> None:
        if self.raw:
            session.connection().exec_driver_sql(self.compiled.string, rows)
            return
        ids, texts, buttons, keys = (list(column) for column in zip(*rows))
        session.execute(_UNNEST_INSERT, {"ids": ids, "texts": texts, "buttons": buttons, "keys": keys, "due": self.due})


_ARRAYS = func.unnest(bindparam("ids", type_=ARRAY(Integer)), bindparam("texts", type_=ARRAY(Text)),
                      bindparam("buttons", type_=ARRAY(Text)),
                      bindparam("keys", type_=ARRAY(Text))).table_valued("r", "t", "b", "k").render_derived()
_UNNEST_INSERT = postgresql.insert(OutboxMessage.__table__).from_select(
    list(_OutboxWriter.COLUMNS),
    select(literal("reminder"), _ARRAYS.c.r, _ARRAYS.c.t, cast(_ARRAYS.c.b, JSON),
           bindparam("due", type_=OutboxMessage.__table__.c.due_at.type), literal("queued"), literal(0), _ARRAYS.c.k)
).on_conflict_do_nothing(index_elements=["dedupe_key"])


def _converted(column_type, dialect, value):
    convert = column_type.bind_processor(dialect)
    return convert(value) if convert else value


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
