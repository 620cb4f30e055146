"""The progress report's counts, kept per month as residents' rows change.

Counting a province's million residents for every report takes seconds (bench/bench_scale.py),
so each write that changes a figure also changes a tally: how many residents joined, reported
a certificate, finished the core courses, started a course or passed a quiz, per month (in the
commune's time zone) and per (village, group, adult, web chat) cell. A report for whole months
adds up a few thousand tallies instead (admin_api/reports/progress.py), and counts the rows
for any other period.

One rule keeps the tallies exact, whatever wrote: a resident's share of the tallies follows
from their own rows alone (contributions). Before a flush touches a resident's counted
columns or rows, their share is read; after it, read again; the difference is added. Core
statements that bypass the unit of work (forgetting a resident) call `forget` themselves.
Which age bands are adults and which courses are core come from knowledge/: when they change,
the tallies are rebuilt (ensure), and until then the report counts rows.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.content import Knowledge
from bot.models import Completion, Progress, ReportTally, Resident, ServerKey

JOINED, CERTIFIED, CORE_DONE, STARTED, COMPLETED = "joined", "certified", "core_done", "started", "completed"
VERSION = "1"          # of how contributions are counted: a new one rebuilds the tallies
KEY_NAME = "report_tallies"   # ServerKey row: the fingerprint of the rules the tallies were built with
WEB = "web"            # Resident.platform of the web chat (bot/channels/web.PLATFORM)
# Columns and rows whose change can move a resident's share.
COUNTED = {Resident: ("created_at", "certified_at", "village_id", "group_id", "age_band", "platform"),
           Progress: ("resident_id", "started_at"), Completion: ("resident_id", "course_id", "completed_at")}

Key = tuple[date, str, str, str, bool, bool]    # month, measure, village, group, adult, web


def month_of(moment: datetime, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz)
    return date(local.year, local.month, 1)


class Tallies:
    def __init__(self, knowledge: Knowledge, tz: ZoneInfo):
        self.tz = tz
        self.minors = frozenset(b.id for b in knowledge.pack("vi").profile.age_bands if not b.adult)
        self.core = frozenset(knowledge.plan.core_courses)
        rules = {"version": VERSION, "minors": sorted(self.minors), "core": sorted(self.core), "tz": tz.key}
        self.fingerprint = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()

    # --- a resident's share -------------------------------------------------------------------

    def _cell(self, village: str | None, group: str | None, age_band: str | None, platform: str):
        return village or "", group or "", age_band not in self.minors, platform == WEB

    def _add(self, share: dict[Key, int], month_at: datetime, measure: str, cell: tuple) -> None:
        share[(month_of(month_at, self.tz), measure, *cell)] += 1

    def contributions(self, session: Session, ids: set[int]) -> dict[Key, int]:
        """What the residents `ids` add to the tallies, read from their rows as they are now."""
        share: dict[Key, int] = defaultdict(int)
        if not ids:
            return share
        cells, core_done = {}, defaultdict(list)
        for rid, created, certified, village, group, band, platform in session.execute(
                select(Resident.id, Resident.created_at, Resident.certified_at, Resident.village_id,
                       Resident.group_id, Resident.age_band, Resident.platform).where(Resident.id.in_(ids))):
            cell = cells[rid] = self._cell(village, group, band, platform)
            self._add(share, created, JOINED, cell)
            if certified is not None:
                self._add(share, certified, CERTIFIED, cell)
        for rid, started in session.execute(select(Progress.resident_id, Progress.started_at)
                                            .where(Progress.resident_id.in_(list(cells)))):
            self._add(share, started, STARTED, cells[rid])
        for rid, course, completed in session.execute(
                select(Completion.resident_id, Completion.course_id, Completion.completed_at)
                .where(Completion.resident_id.in_(list(cells)))):
            self._add(share, completed, COMPLETED, cells[rid])
            if course in self.core:
                core_done[rid].append(completed)
        for rid, moments in core_done.items():
            if len(moments) == len(self.core):
                self._add(share, max(moments), CORE_DONE, cells[rid])
        return share

    # --- keeping them -------------------------------------------------------------------------

    def apply(self, session: Session, delta: dict[Key, int]) -> None:
        """Adds delta to the tallies (an upsert each, in the caller's transaction)."""
        rows = [{"month": k[0], "measure": k[1], "village_id": k[2], "group_id": k[3], "adult": k[4], "web": k[5],
                 "count": n} for k, n in delta.items() if n]
        if rows:
            upsert = _UPSERT[session.get_bind().dialect.name]
            session.connection().execute(upsert, rows)

    def forget(self, session: Session, resident_id: int) -> None:
        """Takes the resident's share away: call before deleting their rows with Core statements."""
        self.apply(session, {k: -n for k, n in self.contributions(session, {resident_id}).items()})

    def install(self, sessions: sessionmaker[Session]) -> None:
        """Keeps the tallies in step with every flush of these sessions."""
        sessions.configure(info={**sessions.kw.get("info", {}), "tallies": self})
        event.listen(sessions, "before_flush", self._before_flush)
        event.listen(sessions, "after_flush", self._after_flush)

    def _before_flush(self, session: Session, _context, _instances) -> None:
        touched: set[int] = set()
        new_residents = []
        for obj in (*session.new, *session.dirty, *session.deleted):
            columns = COUNTED.get(type(obj))
            if columns is None:
                continue
            state = inspect(obj)
            if obj in session.dirty and not any(state.attrs[c].history.has_changes() for c in columns):
                continue
            if isinstance(obj, Resident):
                if obj in session.new:
                    new_residents.append(obj)      # no share yet, and no id before the flush
                else:
                    touched.add(obj.id)
            else:
                touched.add(obj.resident_id)
                for old in state.attrs["resident_id"].history.deleted or ():
                    touched.add(old)
        if touched or new_residents:
            session.info["tally_flush"] = (touched, new_residents, self.contributions(session, touched))

    def _after_flush(self, session: Session, _context) -> None:
        pending = session.info.pop("tally_flush", None)
        if pending is None:
            return
        touched, new_residents, before = pending
        after = self.contributions(session, touched | {r.id for r in new_residents})
        delta = defaultdict(int, after)
        for key, n in before.items():
            delta[key] -= n
        self.apply(session, delta)

    # --- building them again ------------------------------------------------------------------

    def ready(self, session: Session) -> bool:
        return session.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME)) == self.fingerprint

    def ensure(self, sessions: sessionmaker[Session]) -> bool:
        """Rebuilds the tallies if they were built with other rules, or never; True if it did."""
        with sessions() as session:
            if self.ready(session):
                return False
        return self.rebuild(sessions, unless_ready=True)

    def rebuild(self, sessions: sessionmaker[Session], unless_ready: bool = False) -> bool:
        """Counts every row once, in one transaction that other tally writers wait for (a
        resident's share added meanwhile would otherwise be counted twice or lost). With
        unless_ready, a process that waited for another's rebuild does not do it again."""
        with sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.connection().exec_driver_sql("LOCK TABLE report_tallies IN EXCLUSIVE MODE")
            session.execute(delete(ReportTally))    # on SQLite, this takes the write lock first
            if unless_ready and self.ready(session):
                session.rollback()
                return False
            totals: dict[Key, int] = defaultdict(int)
            cell_columns = (Resident.village_id, Resident.group_id, Resident.age_band, Resident.platform)
            rows = session.execute(select(Resident.created_at, Resident.certified_at, *cell_columns)
                                   .execution_options(yield_per=20_000))
            for created, certified, *cell in rows:
                cell = self._cell(*cell)
                self._add(totals, created, JOINED, cell)
                if certified is not None:
                    self._add(totals, certified, CERTIFIED, cell)
            for table, column, measure in ((Progress, Progress.started_at, STARTED),
                                           (Completion, Completion.completed_at, COMPLETED)):
                rows = session.execute(select(column, *cell_columns).join(Resident, Resident.id == table.resident_id)
                                       .execution_options(yield_per=20_000))
                for moment, *cell in rows:
                    self._add(totals, moment, measure, self._cell(*cell))
            if self.core:
                done = (select(Completion.resident_id, func.max(Completion.completed_at).label("at"))
                        .where(Completion.course_id.in_(self.core)).group_by(Completion.resident_id)
                        .having(func.count() == len(self.core)).subquery())
                rows = session.execute(select(done.c.at, *cell_columns).join(Resident, Resident.id == done.c.resident_id)
                                       .execution_options(yield_per=20_000))
                for moment, *cell in rows:
                    self._add(totals, moment, CORE_DONE, self._cell(*cell))
            self.apply(session, totals)
            key = session.get(ServerKey, KEY_NAME)
            if key is None:
                session.add(ServerKey(name=KEY_NAME, value=self.fingerprint))
            else:
                key.value = self.fingerprint
        return True

    # --- reading them -------------------------------------------------------------------------

    def covers(self, period_from: date, period_to: date, today: date) -> bool:
        """Whole months: from a 1st to a month's last day, or to today (nothing is dated later)."""
        last_day = (period_to.replace(day=28) + (date.resolution * 4)).replace(day=1) - date.resolution
        return period_from.day == 1 and (period_to == last_day or period_to >= today)

    def sums(self, session: Session, period_from: date, period_to: date, village: str | None):
        """Per (measure, village, group, adult, web): (up to the period's end, within the period)."""
        end = (period_to.replace(day=1) + date.resolution * 32).replace(day=1)     # the month after
        start = period_from.replace(day=1)
        in_period = func.sum(ReportTally.count).filter(ReportTally.month >= start)
        query = (select(ReportTally.measure, ReportTally.village_id, ReportTally.group_id, ReportTally.adult,
                        ReportTally.web, func.sum(ReportTally.count), in_period)
                 .where(ReportTally.month < end)
                 .group_by(ReportTally.measure, ReportTally.village_id, ReportTally.group_id, ReportTally.adult,
                           ReportTally.web))
        if village:
            query = query.where(ReportTally.village_id == village)
        return session.execute(query)


def tallies_of(session: Session) -> Tallies | None:
    """The tallies the session keeps (installed on its sessionmaker), if any."""
    return session.info.get("tallies")


_COLUMNS = ("month", "measure", "village_id", "group_id", "adult", "web")
_UPSERT = {}
for _name, _dialect in (("postgresql", postgresql), ("sqlite", sqlite)):
    _insert = _dialect.insert(ReportTally.__table__)
    _UPSERT[_name] = _insert.on_conflict_do_update(
        index_elements=list(_COLUMNS), set_={"count": ReportTally.__table__.c.count + _insert.excluded.count})
