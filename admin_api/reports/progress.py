"""The progress report, aggregated in SQL: three grouped queries, whatever the number of residents.

Definitions (also in the README):
- registered: residents using the assistant at the end of the period (they consented);
- courses started / completed: course starts and passed quizzes during the period;
- core completed: residents who have passed every core course (knowledge/targets.yaml) by the
  end of the period: "basic digital skills" for the plan's targets;
- adults: residents whose age band is not under 18 (a skipped age band counts as adult: the
  assistant is for adults, and under-18s are asked to say so);
- certified: adults on a messenger account (Telegram; Zalo later) who reported with the button
  that they are certified on VNeID. Self-reported, never checked against the commune police's
  figures: the report calls it so wherever it shows it (_indicator, the labels). The same report
  from the web chat is counted apart (certified_web) and never toward the target: a web session
  is a random id that anyone can make by the hundred, so its one-tap report says nothing about a
  person;
- basic skills: adults who passed every core quiz, from any platform. Passing three quizzes is
  work, not a tap, and the web chat is how residents without Telegram learn, so they count; how
  many of them learned on the web is shown beside it (basic_skills_web) for the official to judge.
Percentages of the adult population need the village's adult population, entered by officials.
A count above its base shows 100% and is flagged (model.Measure).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from admin_api.reports.model import AmbassadorRow, Indicator, Measure, Report, Row
from admin_api.reports.wording import label
from bot.content import Knowledge
from bot.content.schema import Indicator as PlanIndicator
from bot.ambassadors import ranking
from bot.models import Completion, Household, Progress, Resident, Target, Village
from bot.tallies import CERTIFIED, COMPLETED, CORE_DONE, JOINED, STARTED, Tallies, tallies_of

TOP_AMBASSADORS = 10   # named in the report for commendation (khen thưởng)
CellKey = tuple[str | None, str | None]   # (village id, group id)
WEB_PLATFORM = "web"    # Resident.platform of the web chat (bot/channels/web.PLATFORM)
PER_RESIDENT = ("registered", "new_in_period", "adults", "core_completed", "core_adults", "core_adults_web",
                "certified_adults", "certified_adults_web")
FIELDS = (*PER_RESIDENT, "courses_started", "courses_completed")


def _bounds(period_from: date, period_to: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local calendar days [from, to] as UTC instants [start, end)."""
    start = datetime.combine(period_from, time.min, tz).astimezone(timezone.utc)
    end = datetime.combine(period_to + timedelta(days=1), time.min, tz).astimezone(timezone.utc)
    return start, end


def _core_done(knowledge: Knowledge, end: datetime):
    """Residents who passed every core course before `end`."""
    core = knowledge.plan.core_courses
    return (select(Completion.resident_id)
            .where(Completion.course_id.in_(core), Completion.completed_at < end)
            .group_by(Completion.resident_id)
            .having(func.count() == len(set(core)))
            .subquery())


def _digital_families(session: Session, knowledge: Knowledge, end: datetime) -> dict[str | None, int]:
    """Per village: households with at least one member who finished the core courses. From the
    households' members, not from every resident's completions: few residents are in one."""
    core = set(knowledge.plan.core_courses)
    done = (select(func.count()).where(Completion.resident_id == Resident.id, Completion.course_id.in_(core),
                                       Completion.completed_at < end).scalar_subquery())
    return {v: int(n) for v, n in session.execute(
        select(Household.village_id, func.count(func.distinct(Household.id)))
        .join(Resident, Resident.household_id == Household.id)
        .where(done == len(core))
        .group_by(Household.village_id))}


def _cells(session: Session, knowledge: Knowledge, start: datetime, end: datetime,
           village: str | None) -> dict[CellKey, dict[str, int]]:
    minors = [b.id for b in knowledge.pack("vi").profile.age_bands if not b.adult]
    adult = or_(Resident.age_band.is_(None), Resident.age_band.not_in(minors))
    core = _core_done(knowledge, end)
    done = core.c.resident_id.is_not(None)
    web = Resident.platform == WEB_PLATFORM
    certified = and_(Resident.certified_at.is_not(None), Resident.certified_at < end, adult)

    def total(condition) -> object:
        return func.sum(case((condition, 1), else_=0))

    per_resident = {
        "registered": func.count(), "new_in_period": total(Resident.created_at >= start), "adults": total(adult),
        "core_completed": total(done), "core_adults": total(and_(done, adult)),
        "core_adults_web": total(and_(done, adult, web)),
        "certified_adults": total(and_(certified, ~web)), "certified_adults_web": total(and_(certified, web)),
    }
    in_scope = [Resident.created_at < end] + ([Resident.village_id == village] if village else [])
    cells: dict[CellKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    rows = session.execute(
        select(Resident.village_id, Resident.group_id, *(per_resident[name] for name in PER_RESIDENT))
        .outerjoin(core, core.c.resident_id == Resident.id)
        .where(*in_scope)
        .group_by(Resident.village_id, Resident.group_id))
    for v, g, *counts in rows:
        cells[(v, g)].update(zip(PER_RESIDENT, (int(c or 0) for c in counts)))
    for name, table, column in (("courses_started", Progress, Progress.started_at),
                                ("courses_completed", Completion, Completion.completed_at)):
        rows = session.execute(
            select(Resident.village_id, Resident.group_id, func.count())
            .join(table, table.resident_id == Resident.id)
            .where(*in_scope, column >= start, column < end)
            .group_by(Resident.village_id, Resident.group_id))
        for v, g, count in rows:
            cells[(v, g)][name] = int(count)
    return cells


def _tallied_cells(tallies: Tallies, session: Session, period_from: date, period_to: date,
                   village: str | None) -> dict[CellKey, dict[str, int]]:
    """The same cells as _cells, added up from the monthly tallies (bot/tallies.py)."""
    cells: dict[CellKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for measure, v, g, adult, web, to_end, in_period in tallies.sums(session, period_from, period_to, village):
        cell, to_end, in_period = cells[(v or None, g or None)], int(to_end or 0), int(in_period or 0)
        if measure == JOINED:
            cell["registered"] += to_end
            cell["new_in_period"] += in_period
            cell["adults"] += to_end if adult else 0
        elif measure == CORE_DONE:
            cell["core_completed"] += to_end
            cell["core_adults"] += to_end if adult else 0
            cell["core_adults_web"] += to_end if adult and web else 0
        elif measure == CERTIFIED and adult:
            cell["certified_adults_web" if web else "certified_adults"] += to_end
        elif measure == STARTED:
            cell["courses_started"] += in_period
        elif measure == COMPLETED:
            cell["courses_completed"] += in_period
    return cells


def sum_cells(cells: dict[CellKey, dict[str, int]], keep, fields: tuple[str, ...] = FIELDS) -> dict[str, int]:
    """The counts of the (village, group) cells that `keep` accepts, added up."""
    out = dict.fromkeys(fields, 0)
    for key, counts in cells.items():
        if keep(key):
            for name in fields:
                out[name] += counts[name]
    return out


def _row(row_id: str | None, name: str, counts: dict[str, int]) -> Row:
    return Row(row_id, name, registered=counts["registered"], new_in_period=counts["new_in_period"],
               courses_started=counts["courses_started"], courses_completed=counts["courses_completed"],
               core_completed=counts["core_completed"])


def progress_report(session: Session, knowledge: Knowledge, commune: str, period_from: date, period_to: date,
                    tz: ZoneInfo, village: str | None = None, labels: dict[str, str] | None = None) -> Report:
    labels = labels or {}
    start, end = _bounds(period_from, period_to, tz)
    year = period_to.year
    plan = knowledge.plan
    targets = {i: p for i, p in session.execute(select(Target.indicator, Target.percent).where(Target.year == year))}
    adult_target = {i.measure: targets.get(i.id) for i in plan.indicators if i.who == "adults"}
    tallies = tallies_of(session)
    if (tallies is not None and tallies.covers(period_from, period_to, datetime.now(tz).date())
            and tallies.ready(session)):
        cells = _tallied_cells(tallies, session, period_from, period_to, village)
    else:
        cells = _cells(session, knowledge, start, end, village)
    villages = session.scalars(select(Village).order_by(Village.position, Village.name)
                               .where(*([Village.id == village] if village else []))).all()
    report = Report(commune=commune, period_from=period_from, period_to=period_to, year=year,
                    generated_at=datetime.now(timezone.utc), village_filter=village,
                    core_courses=list(plan.core_courses))

    def with_adult_measures(row: Row, counts: dict[str, int], population: int | None) -> Row:
        row.basic_skills = Measure(counts["core_adults"], population, adult_target.get("core_courses"))
        row.basic_skills_web = counts["core_adults_web"]
        row.certified = Measure(counts["certified_adults"], population, adult_target.get("certified"))
        row.certified_web = counts["certified_adults_web"]
        return row

    families = _digital_families(session, knowledge, end)
    for v in villages:
        counts = sum_cells(cells, lambda key, vid=v.id: key[0] == vid)
        row = with_adult_measures(_row(v.id, v.name, counts), counts, v.adult_population)
        row.adult_population, row.households = v.adult_population, v.households
        row.digital_families = Measure(families.get(v.id, 0), v.households, basis="households")
        report.villages.append(row)
    known = {v.id for v in villages}
    unplaced = sum_cells(cells, lambda key: key[0] not in known)
    if unplaced["registered"] and not village:
        report.villages.append(_row(None, labels.get("no_village", "no_village"), unplaced))  # residents who skipped the village question

    by_audience = {i.who: i for i in plan.indicators if i.who != "adults"}
    for group in knowledge.pack("vi").profile.groups:
        counts = sum_cells(cells, lambda key, gid=group.id: key[1] == gid)
        row = _row(group.id, group.label, counts)
        indicator = by_audience.get(group.audience)
        if indicator is not None:
            row.group_target = Measure(counts["core_completed"], counts["registered"], targets.get(indicator.id),
                                       basis="registered")
        report.groups.append(row)
    ungrouped = sum_cells(cells, lambda key: key[1] is None)
    if ungrouped["registered"]:
        report.groups.append(_row(None, labels.get("no_group", "no_group"), ungrouped))

    everyone = sum_cells(cells, lambda key: True)
    populations = [v.adult_population for v in villages]
    population = sum(populations) if populations and None not in populations else None
    report.total = with_adult_measures(_row(None, commune, everyone), everyone, population)
    report.total.adult_population = population
    households = [v.households for v in villages]
    report.total.households = sum(households) if households and None not in households else None
    report.total.digital_families = Measure(sum(r.digital_families.count for r in report.villages
                                                if r.digital_families), report.total.households,
                                            basis="households")
    names = {v.id: v.name for v in villages}
    report.ambassadors = [AmbassadorRow(r.rank, r.first_name or "", names.get(r.village_id, r.village_id or ""),
                                        r.helped, r.completions, r.people_in_sessions)
                          for r in ranking(session, start, end, village, limit=TOP_AMBASSADORS)]

    for indicator in plan.indicators:
        if indicator.who == "adults":
            measure = report.total.basic_skills if indicator.measure == "core_courses" else report.total.certified
        else:
            rows = [r for r, g in zip(report.groups, knowledge.pack("vi").profile.groups)
                    if g.audience == indicator.who]
            registered = sum(r.registered for r in rows)
            measure = Measure(sum(r.core_completed for r in rows), registered or None, targets.get(indicator.id),
                              basis="registered")
        report.indicators.append(_indicator(indicator, measure, labels))
    return report


def _indicator(indicator: PlanIndicator, measure: Measure, labels: dict[str, str]) -> Indicator:
    """The plan's indicator with its figure. The certified one is what residents told the assistant,
    so its name says so wherever it is shown (the tables, the JSON), not only where it is explained."""
    if indicator.measure != "certified":
        return Indicator(indicator.id, indicator.label, measure)
    name = label(labels, "indicator_self_reported", default="{label} (indicator_self_reported)",
                 label=indicator.label)
    return Indicator(indicator.id, name, measure, self_reported=True)
