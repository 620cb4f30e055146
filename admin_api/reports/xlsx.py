"""The periodic report as an Excel workbook: one sheet for the indicators, one for the villages
(with the commune total and the digital families), one for the groups, one for the ranking
of the digital ambassadors (thi dua).

No words live here: every sheet name, header and title comes from ``labels`` (the ``labels``
mapping of knowledge/vi/report.yaml, through reports.wording), and the columns are those of
reports.columns, shared with the Word renderer.
"""
from __future__ import annotations

import math
import re
from datetime import tzinfo
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from admin_api.reports.columns import (AMBASSADOR_COLUMNS, GROUP_COLUMNS, INDICATOR_COLUMNS, VILLAGE_COLUMNS,
                                       Column)
from admin_api.reports.model import Measure, Report
from admin_api.reports.wording import Labels, context, label, met_label, over_base_note, scope


SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_RESERVED_SHEET_NAMES = {"history"}       # Excel keeps this one for itself

TITLE_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3
HEADER_LINES = 8                # the most lines a header row grows to

_BOLD = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=12)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_OVER_BASE_FILL = PatternFill("solid", fgColor="FCE4D6")   # a share above 100%: check the figures
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


def _cell_value(value: Any, kind: str, labels: Labels | None) -> Any:
    """Numbers stay numbers; nothing known stays empty (no dash, no zero). A share above 100%
    is the text of its note ("100% (vượt ...: 250/100)"), so it cannot be read or summed as 100."""
    if kind == "met":
        value = met_label(value, labels)
    elif kind == "percent" and isinstance(value, Measure):
        value = over_base_note(value, labels) if value.over_base else value.percent
    if value is None or value == "":
        return None
    if kind in ("text", "met") or isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if kind == "percent":
        return round(float(value), 1)
    return int(value)


def _display_width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
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
            value = _cell_value(column.value(item), column.kind, labels)
            if is_total and c == 1:
                value = total_name
            cell = ws.cell(r, c, value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"          # a name such as "=1+1" is text, never a formula
            cell.border = _BOX
            if column.kind in ("text", "met"):
                cell.alignment = Alignment(vertical="top", wrap_text=True)
            elif isinstance(value, str):      # a share above 100%: its note, marked
                cell.alignment = Alignment(horizontal="right", vertical="top", wrap_text=True)
            else:
                cell.number_format = _NUMBER_FORMATS[column.kind]
                cell.alignment = Alignment(horizontal="right", vertical="top")
            if is_total:
                cell.font = _BOLD
                cell.fill = _TOTAL_FILL
            if isinstance(value, str) and column.kind == "percent":
                cell.fill = _OVER_BASE_FILL
            widths[c - 1] = max(widths[c - 1], _display_width(value, column.kind))
    if not rows and empty_note:
        note = ws.cell(FIRST_ROW, 1, ILLEGAL_CHARACTERS_RE.sub("", empty_note))
        if note.value.startswith("="):
            note.data_type = "s"
        note.font = Font(italic=True)       # not wrapped: it runs on over the empty cells beside it

    header_lines = 1
    for c, (column, text) in enumerate(zip(columns, headers), 1):
        longest_word = max((len(w) for w in text.split()), default=0)
        cap = 60 if column.kind in ("text", "met") else 22
        fits = math.ceil(len(text) / HEADER_LINES) + 2       # a long header (what a figure is) is read whole
        width = min(cap, max(widths[c - 1] + 2, longest_word + 2, min(len(text) + 2, 16), fits, 8))
        ws.column_dimensions[get_column_letter(c)].width = width
        header_lines = max(header_lines, math.ceil(len(text) / max(width - 2, 1)))
    ws.row_dimensions[HEADER_ROW].height = 15 * min(header_lines, HEADER_LINES) + 3

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
    _write_sheet(indicators, title, INDICATOR_COLUMNS, report.indicators, labels, values)

    villages = wb.create_sheet(sheet_name(label(labels, "sheet_villages", **values), taken))
    _write_sheet(villages, title, VILLAGE_COLUMNS, report.villages, labels, values, total=report.total,
                 total_name=label(labels, "total_row", **values))

    groups = wb.create_sheet(sheet_name(label(labels, "sheet_groups", **values), taken))
    _write_sheet(groups, title, GROUP_COLUMNS, report.groups, labels, values)

    ambassadors = wb.create_sheet(sheet_name(label(labels, "sheet_ambassadors", **values), taken))
    _write_sheet(ambassadors, title, AMBASSADOR_COLUMNS, report.ambassadors, labels, values,
                 empty_note=label(labels, "ambassadors_none", **values))

    out = BytesIO()
    wb.save(out)
    return out.getvalue()
