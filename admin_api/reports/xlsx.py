"""The periodic report as an Excel workbook: one sheet for the indicators, one for the villages
(with the commune total and the digital families), one for the groups, one for the ranking
of the digital ambassadors (thi dua).

No words live here: every sheet name, header and title comes from ``labels`` (the ``labels``
mapping of knowledge/vi/report.yaml). A missing label shows its key, a template with a broken
placeholder shows as written: a report is never refused for its wording.

The label and formatting helpers below are shared with the Word renderer (reports.docx).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from admin_api.reports.model import Measure, Report, Row

Labels = Mapping[str, Any]


# --- labels and formatting (shared with reports.docx) -------------------------------------------

class _KeepMissing(dict):
    """format_map values: an unknown {placeholder} stays as written instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def label(labels: Labels | None, key: str, default: str | None = None, **values: Any) -> str:
    """The label ``key`` with its {placeholders} filled in.

    Missing (or not a plain value): ``default`` when given, else the key itself. A template that
    does not format (a stray brace, a format spec that does not fit) is returned unformatted.
    """
    template = labels.get(key) if labels else None
    if template is None or isinstance(template, (bool, dict, list)):
        template = key if default is None else default
    template = str(template)
    if not values:
        return template
    try:
        return template.format_map(_KeepMissing(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def day(value: date) -> str:
    """dd/mm/yyyy, as officials write dates."""
    return value.strftime("%d/%m/%Y")


def moment(value: datetime, tz: tzinfo | None = None) -> str:
    """dd/mm/yyyy hh:mm, in ``tz`` when given; an aware time left in its own zone says which."""
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    text = value.strftime("%d/%m/%Y %H:%M")
    offset = value.strftime("%z")
    if tz is None and offset:
        text += f" (UTC{offset[:3]}:{offset[3:5]})"
    return text


def context(report: Report, labels: Labels | None, tz: tzinfo | None = None) -> dict[str, Any]:
    """The placeholders every template may use."""
    values: dict[str, Any] = {
        "commune": report.commune,
        "commune_upper": report.commune.upper(),
        "period_from": day(report.period_from),
        "period_to": day(report.period_to),
        "generated_at": moment(report.generated_at, tz),
        "year": report.year,
    }
    values["period"] = label(labels, "period", **values)
    return values


def scope(report: Report, labels: Labels | None) -> str:
    """"Only this village" when the report is for one village, else empty."""
    if not report.village_filter:
        return ""
    name = next((r.name for r in report.villages if r.id == report.village_filter), report.village_filter)
    return label(labels, "scope_village", village=name)


def met_label(measure: Measure | None, labels: Labels | None) -> str:
    """Met / not met / cannot say; empty without a measure."""
    if measure is None:
        return ""
    met = measure.met
    return label(labels, "met_unknown" if met is None else "met_yes" if met else "met_no")


# --- the workbook ---------------------------------------------------------------------------------

SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_RESERVED_SHEET_NAMES = {"history"}       # Excel keeps this one for itself

TITLE_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3

_BOLD = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=12)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_NUMBER_FORMATS = {"int": "#,##0", "percent": "0.0", "target": "0"}


def sheet_name(text: str, taken: set[str]) -> str:
    """A valid, unique sheet name: no []:*?/\\, no leading/trailing apostrophe, at most 31 chars."""
    name = re.sub(r"\s+", " ", _SHEET_FORBIDDEN.sub(" ", text)).strip().strip("'").strip()
    name = name[:SHEET_NAME_MAX].rstrip() or "Sheet"
    base, n = name, 1
    while name.casefold() in taken or name.casefold() in _RESERVED_SHEET_NAMES:
        n += 1
        suffix = f" ({n})"
        name = base[:SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
    taken.add(name.casefold())
    return name


@dataclass(frozen=True)
class Column:
    header: str                       # label key
    value: Callable[[Any], Any]
    kind: str = "int"                 # text | int | percent | target


def _measure(attr: str, part: str) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        measure: Measure | None = getattr(row, attr)
        if measure is None:
            return None
        return {"count": measure.count, "base": measure.base, "percent": measure.percent,
                "target": measure.target_percent}[part]
    return get


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda item: getattr(item, name)


ACTIVITY_COLUMNS = [
    Column("col_registered", _attr("registered")),
    Column("col_new_in_period", _attr("new_in_period")),
    Column("col_courses_started", _attr("courses_started")),
    Column("col_courses_completed", _attr("courses_completed")),
    Column("col_core_completed", _attr("core_completed")),
]


AMBASSADOR_COLUMNS: list[Column] = [
    Column("col_rank", lambda a: a.rank),
    Column("col_first_name", lambda a: a.first_name, "text"),
    Column("col_ambassador_village", lambda a: a.village, "text"),
    Column("col_helped", lambda a: a.helped),
    Column("col_helped_completions", lambda a: a.completions),
    Column("col_people_in_sessions", lambda a: a.people_in_sessions),
]


def _cell_value(value: Any, kind: str) -> Any:
    """Numbers stay numbers; nothing known stays empty (no dash, no zero)."""
    if value is None or value == "":
        return None
    if kind == "text":
        return ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if kind == "percent":
        return round(float(value), 1)
    return int(value)


def _display_width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind == "percent":
        return len(f"{value:.1f}")
    if kind == "int":
        return len(f"{value:,}")
    return len(str(value))


def _write_sheet(ws: Worksheet, title: str, columns: list[Column], items: list[Any],
                 labels: Labels | None, values: dict[str, Any],
                 total: Any | None = None, total_name: str = "", empty_note: str = "") -> None:
    """Title, header, one row per item, an optional total; ``empty_note`` on the first row when
    there are no items."""
    ws.cell(TITLE_ROW, 1, ILLEGAL_CHARACTERS_RE.sub("", title)).font = _TITLE_FONT
    ws.row_dimensions[TITLE_ROW].height = 20

    headers = [label(labels, column.header, **values) for column in columns]
    for c, text in enumerate(headers, 1):
        cell = ws.cell(HEADER_ROW, c, ILLEGAL_CHARACTERS_RE.sub("", text))
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    rows = [(item, False) for item in items] + ([(total, True)] if total is not None else [])
    widths = [0] * len(columns)
    for r, (item, is_total) in enumerate(rows, FIRST_ROW):
        for c, column in enumerate(columns, 1):
            value = _cell_value(column.value(item), column.kind)
            if is_total and c == 1:
                value = total_name
            cell = ws.cell(r, c, value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"          # a name such as "=1+1" is text, never a formula
            cell.border = _BOX
            if column.kind == "text":
                cell.alignment = Alignment(vertical="top", wrap_text=True)
            else:
                cell.number_format = _NUMBER_FORMATS[column.kind]
                cell.alignment = Alignment(horizontal="right", vertical="top")
            if is_total:
                cell.font = _BOLD
                cell.fill = _TOTAL_FILL
            widths[c - 1] = max(widths[c - 1], _display_width(value, column.kind))
    if not rows and empty_note:
        note = ws.cell(FIRST_ROW, 1, ILLEGAL_CHARACTERS_RE.sub("", empty_note))
        if note.value.startswith("="):
            note.data_type = "s"
        note.font = Font(italic=True)       # not wrapped: it runs on over the empty cells beside it

    header_lines = 1
    for c, (column, text) in enumerate(zip(columns, headers), 1):
        longest_word = max((len(w) for w in text.split()), default=0)
        cap = 60 if column.kind == "text" else 22
        width = min(cap, max(widths[c - 1] + 2, longest_word + 2, min(len(text) + 2, 16), 8))
        ws.column_dimensions[get_column_letter(c)].width = width
        header_lines = max(header_lines, math.ceil(len(text) / max(width - 2, 1)))
    ws.row_dimensions[HEADER_ROW].height = 15 * min(header_lines, 6) + 3

    last_column = get_column_letter(len(columns))
    ws.freeze_panes = ws.cell(FIRST_ROW, 2)        # title, header and the name column stay in view
    if items:
        ws.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{HEADER_ROW + len(items)}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def render_xlsx(report: Report, labels: dict[str, str], tz: tzinfo | None = None) -> bytes:
    """The report as .xlsx bytes. ``tz``: the zone to show the generation time in."""
    values = context(report, labels, tz)
    title = label(labels, "sheet_title", **values)
    where = scope(report, labels)
    if where:
        title = f"{title} \u2013 {where}"

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = label(labels, "report_subtitle", **values)
    taken: set[str] = set()

    indicators = wb.create_sheet(sheet_name(label(labels, "sheet_indicators", **values), taken))
    _write_sheet(indicators, title, [
        Column("col_indicator", lambda i: i.label, "text"),
        Column("col_count", lambda i: i.measure.count),
        Column("col_base", lambda i: i.measure.base),
        Column("col_percent", lambda i: i.measure.percent, "percent"),
        Column("col_target", lambda i: i.measure.target_percent, "target"),
        Column("col_met", lambda i: met_label(i.measure, labels), "text"),
    ], report.indicators, labels, values)

    villages = wb.create_sheet(sheet_name(label(labels, "sheet_villages", **values), taken))
    _write_sheet(villages, title, [
        Column("col_village", _attr("name"), "text"),
        *ACTIVITY_COLUMNS,
        Column("col_adult_population", _attr("adult_population")),
        Column("col_households", _attr("households")),
        Column("col_basic_skills_count", _measure("basic_skills", "count")),
        Column("col_basic_skills_percent", _measure("basic_skills", "percent"), "percent"),
        Column("col_basic_skills_target", _measure("basic_skills", "target"), "target"),
        Column("col_certified_count", _measure("certified", "count")),
        Column("col_certified_percent", _measure("certified", "percent"), "percent"),
        Column("col_certified_target", _measure("certified", "target"), "target"),
        Column("col_digital_families_count", _measure("digital_families", "count")),
        Column("col_digital_families_base", _measure("digital_families", "base")),
        Column("col_digital_families_percent", _measure("digital_families", "percent"), "percent"),
    ], report.villages, labels, values, total=report.total, total_name=label(labels, "total_row", **values))

    groups = wb.create_sheet(sheet_name(label(labels, "sheet_groups", **values), taken))
    _write_sheet(groups, title, [
        Column("col_group", _attr("name"), "text"),
        *ACTIVITY_COLUMNS,
        Column("col_group_target_count", _measure("group_target", "count")),
        Column("col_group_target_base", _measure("group_target", "base")),
        Column("col_group_target_percent", _measure("group_target", "percent"), "percent"),
        Column("col_group_target_target", _measure("group_target", "target"), "target"),
        Column("col_met", lambda r: met_label(r.group_target, labels), "text"),
    ], report.groups, labels, values)

    ambassadors = wb.create_sheet(sheet_name(label(labels, "sheet_ambassadors", **values), taken))
    _write_sheet(ambassadors, title, AMBASSADOR_COLUMNS, report.ambassadors, labels, values,
                 empty_note=label(labels, "ambassadors_none", **values))

    out = BytesIO()
    wb.save(out)
    return out.getvalue()
