"""The report's written sections, which a commune's report has beside its tables: the general
assessment, difficulties, directions and recommendations. An official writes them for a period
and a village (or the whole commune); they are kept in report_notes and printed in the Word
document, after the tables and before the signature.

Until they are written, the document shows what the figures say (suggested_notes), which is also
what the official is offered to start from: the narrative, then the villages to look at. Nothing
is suggested that the figures do not show.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy.orm import Session

from admin_api.reports.model import Report, Row
from admin_api.reports.narrative import narrative
from admin_api.reports.wording import Labels, context, label, names, percent
from bot.models import ReportNote, utcnow

SECTIONS = ("assessment", "difficulties", "directions", "recommendations")
MAX_TEXT = 4000                 # characters a section keeps: a page and a half
ACTOR_MAX = 80                  # report_notes.updated_by


def section_heading(section: str, labels: Labels | None) -> str:
    return label(labels, f"section_{section}")


# --- what the figures suggest ---------------------------------------------------------------------

def suggested_notes(report: Report, labels: Labels | None) -> dict[str, str]:
    """Each section as the figures would start it, paragraphs one a line; "" where they say nothing."""
    values = context(report, labels)
    villages = [row for row in report.villages if row.id is not None]   # not the residents without one
    sections = {
        "assessment": narrative(report, labels),
        "difficulties": [_below_target(villages, labels, values), *_to_check(villages, labels, values)],
        "directions": [_direction_below_target(villages, labels, values),
                       _direction_village_figures(villages, labels, values)],
        "recommendations": [_recommend_vneid_check(report, labels, values)],
    }
    return {section: "\n".join(line for line in lines if line) for section, lines in sections.items()}


def _below(row: Row) -> bool:
    """Basic skills below the year's target: the plan's main figure (certifications are self-reported)."""
    return row.basic_skills is not None and row.basic_skills.met is False


def _below_target(villages: list[Row], labels: Labels | None, values: dict) -> str:
    items = [label(labels, "item_village_below", name=row.name, percent=percent(row.basic_skills.percent, labels),
                   target=row.basic_skills.target_percent) for row in villages if _below(row)]
    return label(labels, "difficulty_below_target", **values, villages="; ".join(items)) if items else ""


def _to_check(villages: list[Row], labels: Labels | None, values: dict) -> list[str]:
    """Villages whose adult population or households are missing, and those whose figures exceed
    what was entered."""
    over = names([row.name for row in villages if any(
        m is not None and m.over_base for m in (row.basic_skills, row.certified, row.digital_families))])
    no_population = names([row.name for row in villages if not row.adult_population])
    no_households = names([row.name for row in villages if not row.households])
    return [label(labels, key, **values, villages=listed) for key, listed in (
        ("difficulty_no_population", no_population), ("difficulty_over_base", over),
        ("difficulty_no_households", no_households)) if listed]


def _direction_below_target(villages: list[Row], labels: Labels | None, values: dict) -> str:
    below = names([row.name for row in villages if _below(row)])
    return label(labels, "direction_below_target", **values, villages=below) if below else ""


def _direction_village_figures(villages: list[Row], labels: Labels | None, values: dict) -> str:
    missing = names([row.name for row in villages if not row.adult_population or not row.households])
    return label(labels, "direction_village_figures", **values, villages=missing) if missing else ""


def _recommend_vneid_check(report: Report, labels: Labels | None, values: dict) -> str:
    """Self-reported certifications are worth a figure only once checked against the police's."""
    if not any(i.self_reported and i.measure.count for i in report.indicators):
        return ""
    return label(labels, "recommend_vneid_check", **values)


# --- what the Word document prints ----------------------------------------------------------------

def notes_to_print(report: Report, labels: Labels | None, notes: Mapping[str, str] | None) -> dict[str, str]:
    """The official's text for each section; a section they never wrote, the figures' suggestion.
    A section they emptied stays empty: the document leaves a line to write on."""
    suggested = suggested_notes(report, labels)
    notes = notes or {}
    return {section: notes[section] if section in notes else suggested[section] for section in SECTIONS}


def paragraphs(text: str) -> list[str]:
    """A section's paragraphs: its lines, without the blank ones."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- kept in the database -------------------------------------------------------------------------

def _key(period_from: date, period_to: date, village_id: str | None) -> tuple[date, date, str]:
    return period_from, period_to, village_id or ""       # "" is the whole commune: a key cannot be NULL


def load_notes(session: Session, period_from: date, period_to: date,
               village_id: str | None) -> dict[str, str] | None:
    """The sections written for this period and village; None when none were."""
    note = session.get(ReportNote, _key(period_from, period_to, village_id))
    if note is None:
        return None
    return {section: str(note.sections[section]) for section in SECTIONS if section in (note.sections or {})}


def clean_text(text: object) -> str:
    """A section's text as kept: one kind of line break, no NUL (PostgreSQL cannot keep it), no
    surrounding blanks, at most MAX_TEXT characters."""
    if not isinstance(text, str):
        raise ValueError("a report section's text must be a string")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.strip()[:MAX_TEXT].rstrip()


def save_notes(session: Session, period_from: date, period_to: date, village_id: str | None,
               sections: Mapping[str, str], actor: str) -> dict[str, str]:
    """Keep the given sections for this period and village (the others stay as they were), and
    return them all. Raises ValueError for an unknown section, a text that is not a string, a
    period that ends before it starts, or no actor. Does not commit: the caller does, with its
    own audit entry."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown report section(s): {', '.join(map(str, unknown))}")
    if period_from > period_to:
        raise ValueError("period_from must not be after period_to")
    if not actor or not actor.strip():
        raise ValueError("actor must not be blank")
    cleaned = {section: clean_text(text) for section, text in sections.items()}
    key = _key(period_from, period_to, village_id)
    note = session.get(ReportNote, key)
    if note is None:
        note = ReportNote(period_from=key[0], period_to=key[1], village_id=key[2], sections={})
        session.add(note)
    note.sections = {**(note.sections or {}), **cleaned}   # a new dict: SQLAlchemy sees the change
    note.updated_by = actor.strip()[:ACTOR_MAX]
    note.updated_at = utcnow()
    return dict(note.sections)
