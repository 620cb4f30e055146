"""The overview's figures: per village and for the commune, residents reached, courses finished,
basic skills and (self-reported) VNeID certification against each year's targets, and the trend
by month. Built on the report's own queries (admin_api.reports.progress), so the overview and the
filed report never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from admin_api.reports.model import Measure, Row
from admin_api.reports.progress import progress_report
from bot.content import Knowledge
from bot.models import Completion, Resident, Target

SINCE = date(2020, 1, 1)      # "so far": every resident and course the assistant has seen
MONTHS = 12


@dataclass
class Line:
    """One village (or the commune) on the overview."""

    id: str | None
    name: str
    registered: int
    courses_completed: int
    adult_population: int | None
    basic_skills: Measure
    certified: Measure


@dataclass
class Month:
    label: str            # MM/YYYY
    joined: int           # residents who started using the assistant
    completed: int        # courses finished


@dataclass
class Dashboard:
    today: date
    lines: list[Line]
    total: Line
    targets: dict[str, dict[int, int | None]]     # "core_courses" | "certified" -> year -> percent
    months: list[Month] = field(default_factory=list)

    @property
    def peak(self) -> int:
        return max([1, *(max(m.joined, m.completed) for m in self.months)])


def _line(row: Row) -> Line:
    return Line(row.id, row.name, row.registered, row.courses_completed, row.adult_population,
                row.basic_skills or Measure(0), row.certified or Measure(0))


def _targets(session: Session, knowledge: Knowledge) -> dict[str, dict[int, int | None]]:
    adult = {i.id: i.measure for i in knowledge.plan.indicators if i.who == "adults"}
    out: dict[str, dict[int, int | None]] = {measure: {} for measure in adult.values()}
    for year, indicator, percent in session.execute(
            select(Target.year, Target.indicator, Target.percent).where(Target.indicator.in_(adult))
            .order_by(Target.year)):
        out[adult[indicator]][year] = percent
    return out


def _month_starts(today: date, tz: ZoneInfo) -> list[datetime]:
    """The first instant (UTC) of each of the last MONTHS months, this one included, and of the
    next month: MONTHS + 1 bounds."""
    index = today.year * 12 + today.month - 1          # months since year 0
    firsts = [date(i // 12, i % 12 + 1, 1) for i in range(index - MONTHS + 1, index + 2)]
    return [datetime.combine(d, time.min, tz).astimezone(timezone.utc) for d in firsts]


def _by_month(session: Session, column, bounds: list[datetime], *where) -> list[int]:
    """Counts per month in one scan: a SUM(CASE) per month works the same on SQLite and PostgreSQL."""
    sums = [func.sum(case(((column >= bounds[i]) & (column < bounds[i + 1]), 1), else_=0))
            for i in range(len(bounds) - 1)]
    row = session.execute(select(*sums).where(column >= bounds[0], column < bounds[-1], *where)).one()
    return [int(n or 0) for n in row]


def dashboard(session: Session, knowledge: Knowledge, commune: str, tz: ZoneInfo, today: date,
              village: str | None) -> Dashboard:
    labels = knowledge.pack("vi").report_labels
    report = progress_report(session, knowledge, commune, SINCE, today, tz, village, labels)
    lines = [_line(row) for row in report.villages if row.id is not None]
    total = _line(report.total) if village is None else (lines[0] if lines else _line(report.total))
    bounds = _month_starts(today, tz)
    scope = [Resident.village_id == village] if village else []
    joined = _by_month(session, Resident.created_at, bounds, *scope)
    completions = (_by_month(session, Completion.completed_at, bounds, Completion.resident_id.in_(
        select(Resident.id).where(*scope))) if village else _by_month(session, Completion.completed_at, bounds))
    months = [Month(bounds[i].astimezone(tz).strftime("%m/%Y"), joined[i], completions[i]) for i in range(MONTHS)]
    return Dashboard(today, lines, total, _targets(session, knowledge), months)
