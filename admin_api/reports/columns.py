"""The report's columns, defined once: the workbook shows every column of a table, the Word
document (narrower) places some of them by id, and the JSON names its figures with the same
labels.

A column has an id, its header (a label key of knowledge/vi/report.yaml), how to get its value
from a row, and the kind of value: text, int, target (a percent target), or, given the whole
Measure, percent (capped and flagged above 100%: reports.wording.over_base_note) and met.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    id: str
    header: str                       # label key
    value: Callable[[Any], Any]
    kind: str = "int"                 # text | int | target | percent | met


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda item: getattr(item, name)


def _measure(attr: str, part: str | None = None) -> Callable[[Any], Any]:
    """The row's Measure ``attr``, or one part of it: count, base or target."""
    def get(row: Any) -> Any:
        measure = getattr(row, attr)
        if measure is None or part is None:
            return measure
        return {"count": measure.count, "base": measure.base, "target": measure.target_percent}[part]
    return get


def _measure_columns(attr: str, parts: tuple[str, ...]) -> list[Column]:
    """col_<attr>_<part> for each part of a row's Measure, in order."""
    kinds = {"count": "int", "base": "int", "percent": "percent", "target": "target"}
    return [Column(f"{attr}_{part}", f"col_{attr}_{part}",
                   _measure(attr, None if part == "percent" else part), kinds[part]) for part in parts]


INDICATOR_COLUMNS = [
    Column("indicator", "col_indicator", _attr("label"), "text"),
    Column("count", "col_count", lambda i: i.measure.count),
    Column("base", "col_base", lambda i: i.measure.base),
    Column("percent", "col_percent", _attr("measure"), "percent"),
    Column("target", "col_target", lambda i: i.measure.target_percent, "target"),
    Column("met", "col_met", _attr("measure"), "met"),
]

ACTIVITY_COLUMNS = [Column(name, f"col_{name}", _attr(name)) for name in (
    "registered", "new_in_period", "courses_started", "courses_completed", "core_completed")]

VILLAGE_COLUMNS = [
    Column("name", "col_village", _attr("name"), "text"),
    *ACTIVITY_COLUMNS,
    Column("adult_population", "col_adult_population", _attr("adult_population")),
    Column("households", "col_households", _attr("households")),
    *_measure_columns("basic_skills", ("count", "percent", "target")),
    Column("basic_skills_web", "col_basic_skills_web", _attr("basic_skills_web")),
    *_measure_columns("certified", ("count", "percent", "target")),
    Column("certified_web", "col_certified_web", _attr("certified_web")),
    *_measure_columns("digital_families", ("count", "base", "percent")),
]

GROUP_COLUMNS = [
    Column("name", "col_group", _attr("name"), "text"),
    *ACTIVITY_COLUMNS,
    *_measure_columns("group_target", ("count", "base", "percent", "target")),
    Column("group_target_met", "col_met", _measure("group_target"), "met"),
]

AMBASSADOR_COLUMNS = [
    Column("rank", "col_rank", _attr("rank")),
    Column("first_name", "col_first_name", _attr("first_name"), "text"),
    Column("village", "col_ambassador_village", _attr("village"), "text"),
    Column("helped", "col_helped", _attr("helped")),
    Column("completions", "col_helped_completions", _attr("completions")),
    Column("people_in_sessions", "col_people_in_sessions", _attr("people_in_sessions")),
]

# The JSON report's row figures, each with the label that says what it is, so that a reader of
# the JSON tells the messenger figures from the web chat's as the files do.
ROW_FIELD_LABELS = {
    **{c.id: c.header for c in ACTIVITY_COLUMNS},
    "adult_population": "col_adult_population",
    "households": "col_households",
    "basic_skills": "head_basic_skills",
    "basic_skills_web": "col_basic_skills_web",
    "certified": "head_certified",
    "certified_web": "col_certified_web",
    "group_target": "head_group_target",
    "digital_families": "col_digital_families",
}
