"""The report's columns, defined once: the workbook shows every column of a table, the Word
document (narrower) places some of them by id, and the JSON rows hold their figures under the
same names, labelled with the same words (reports.as_json; admin_api.schemas.RowOut is made
from these lists too). Adding a column to a list, and its label to knowledge/vi/report.yaml, is
all it takes; the Word document shows it once it is placed (reports.docx.WORD_*).

A column has an id, its header (a label key of knowledge/vi/report.yaml), how to get its value
from a row, and the kind of value: text, int, target (a percent target), or, given the whole
Measure, percent (capped and flagged above 100%: reports.wording.over_base_note) and met. A
column of a village, group or commune row also names the figure it shows: the model.Row
attribute, which is the figure's key in the JSON rows. The columns of one Measure (count,
percent, target...) share their figure, which the JSON gives whole, labelled ``figure_label``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    id: str
    header: str                       # label key
    value: Callable[[Any], Any]
    kind: str = "int"                 # text | int | target | percent | met
    figure: str | None = None         # the Row attribute shown, and its JSON key; None: not a figure
    figure_label: str | None = None   # label key of the whole figure, when the column shows one part

    @property
    def figure_header(self) -> str:
        """What the figure is called in the JSON's labels."""
        return self.figure_label or self.header


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


def _figure(name: str) -> Column:
    """A row's plain number, headed col_<name>."""
    return Column(name, f"col_{name}", _attr(name), figure=name)


_PART_KINDS = {"count": "int", "base": "int", "percent": "percent", "target": "target", "met": "met"}


def _measure_columns(attr: str, parts: tuple[str, ...], figure_label: str) -> list[Column]:
    """col_<attr>_<part> for each part of a row's Measure, in order."""
    return [Column(f"{attr}_{part}", f"col_{attr}_{part}",
                   _measure(attr, None if part in ("percent", "met") else part), _PART_KINDS[part],
                   figure=attr, figure_label=figure_label) for part in parts]


def row_figures(*tables: Iterable[Column]) -> dict[str, Column]:
    """Each figure of the row tables, in order, with its first column: what a JSON row holds."""
    figures: dict[str, Column] = {}
    for column in (c for table in tables for c in table):
        if column.figure is not None:
            figures.setdefault(column.figure, column)
    return figures


INDICATOR_COLUMNS = [
    Column("indicator", "col_indicator", _attr("label"), "text"),
    Column("count", "col_count", lambda i: i.measure.count),
    Column("base", "col_base", lambda i: i.measure.base),
    Column("percent", "col_percent", _attr("measure"), "percent"),
    Column("target", "col_target", lambda i: i.measure.target_percent, "target"),
    Column("met", "col_met", _attr("measure"), "met"),
]

ACTIVITY_COLUMNS = [_figure(name) for name in (
    "registered", "new_in_period", "courses_started", "courses_completed", "core_completed")]

VILLAGE_COLUMNS = [
    Column("name", "col_village", _attr("name"), "text"),
    *ACTIVITY_COLUMNS,
    _figure("adult_population"),
    _figure("households"),
    *_measure_columns("basic_skills", ("count", "percent", "target"), "head_basic_skills"),
    _figure("basic_skills_web"),
    *_measure_columns("certified", ("count", "percent", "target"), "head_certified"),
    _figure("certified_web"),
    *_measure_columns("digital_families", ("count", "base", "percent"), "col_digital_families"),
]

GROUP_COLUMNS = [
    Column("name", "col_group", _attr("name"), "text"),
    *ACTIVITY_COLUMNS,
    *_measure_columns("group_target", ("count", "base", "percent", "target", "met"), "head_group_target"),
]

AMBASSADOR_COLUMNS = [
    Column("rank", "col_rank", _attr("rank")),
    Column("first_name", "col_first_name", _attr("first_name"), "text"),
    Column("village", "col_ambassador_village", _attr("village"), "text"),
    Column("helped", "col_helped", _attr("helped")),
    Column("completions", "col_helped_completions", _attr("completions")),
    Column("people_in_sessions", "col_people_in_sessions", _attr("people_in_sessions")),
]
