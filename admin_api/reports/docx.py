"""The periodic report as a Word document, laid out like a commune's periodic report: the
issuer / national motto header, the title and period, the introduction and what the figures
count (residents who use the assistant, not the whole commune), then I. indicators, II. villages
(with the commune total, then small tables of the web chat's figures and of the digital
families), III. groups, IV. the ranking of the digital ambassadors (thi dua), then the written
sections V-VIII (assessment, difficulties, directions, recommendations: the official's text,
or until written what the figures say, reports.notes), and the signature block.

No words live here: all text comes from ``labels`` (knowledge/vi/report.yaml), and the narrative
only restates figures of the report. A missing label shows its key. The columns are those of
reports.columns, shared with the workbook; a page is narrower than a sheet, so each table here
places some of them by id, with its width and, where the Word table words it differently, its
own header.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from io import BytesIO
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from admin_api.reports.columns import (AMBASSADOR_COLUMNS, GROUP_COLUMNS, INDICATOR_COLUMNS, VILLAGE_COLUMNS,
                                       Column)
from admin_api.reports.model import Measure, Report
from admin_api.reports.notes import SECTIONS, notes_to_print, paragraphs, section_heading
from admin_api.reports.wording import Labels, context, label, met_label, number, over_base_note, percent, scope

FONT = "Times New Roman"
BODY_SIZE = Pt(13)
TABLE_SIZE = Pt(10)
TEXT_WIDTH_CM = 16.0            # A4 portrait, 3 cm left and 2 cm right margins

CENTER = WD_ALIGN_PARAGRAPH.CENTER
LEFT = WD_ALIGN_PARAGRAPH.LEFT
JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY


# --- figures as text -----------------------------------------------------------------------------

def share(measure: Measure | None, labels: Labels | None) -> str:
    """A measure's percent, or above 100% its note: "100% (vượt số liệu dân số: 250/100)"."""
    if measure is None:
        return ""
    return over_base_note(measure, labels) if measure.over_base else percent(measure.percent, labels)


def cell_text(column: Column, item: Any, labels: Labels | None) -> str:
    """A shared column's value as the Word table shows it."""
    value = column.value(item)
    if column.kind == "percent":
        return share(value, labels)
    if column.kind == "met":
        return met_label(value, labels)
    if column.kind == "text":
        return "" if value is None else str(value)
    return number(value, labels)


def official_date_parts(report: Report, tz: tzinfo | None) -> dict[str, str]:
    """Day and month as dated documents write them: a leading zero for days 1-9 and months 1-2."""
    when = report.generated_at
    if tz is not None and when.tzinfo is not None:
        when = when.astimezone(tz)
    month = f"{when.month:02d}" if when.month <= 2 else str(when.month)
    return {"day": f"{when.day:02d}", "month": month, "year": str(when.year)}


def _xml_text(text: str) -> str:
    """Text Word can hold: control characters (e.g. in a resident's Telegram name) dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


# --- document building blocks ---------------------------------------------------------------------

def _setup(doc: Any) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(2)

    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = BODY_SIZE
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "vi-VN")
    normal.element.get_or_add_rPr().insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15


def _paragraph(container: Any, text: str = "", *, bold: bool = False, italic: bool = False,
               underline: bool = False, size: Pt | None = None, align: Any = None,
               indent: bool = False, space_after: Pt | None = None) -> Any:
    paragraph = container.add_paragraph()
    if text:
        run = paragraph.add_run(_xml_text(text))
        run.bold, run.italic, run.underline = bold or None, italic or None, underline or None
        if size is not None:
            run.font.size = size
    if align is not None:
        paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.first_line_indent = Cm(1)
    if space_after is not None:
        paragraph.paragraph_format.space_after = space_after
    return paragraph


def _cell_text(cell: _Cell, text: str, *, bold: bool = False, italic: bool = False,
               underline: bool = False, size: Pt = TABLE_SIZE, align: Any = CENTER) -> None:
    """Replace the cell's content with one paragraph per line of ``text``."""
    lines = _xml_text(text).split("\n")
    first = cell.paragraphs[0]
    for extra in cell.paragraphs[1:]:
        extra._element.getparent().remove(extra._element)
    for run in list(first.runs):
        run._element.getparent().remove(run._element)
    for i, line in enumerate(lines):
        paragraph = first if i == 0 else cell.add_paragraph()
        paragraph.alignment = align
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.line_spacing = 1.0
        if line:
            run = paragraph.add_run(line)
            run.bold, run.italic, run.underline = bold or None, italic or None, underline or None
            run.font.size = size


def _no_borders(table: Table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook",
                                           "w:tblCaption", "w:tblDescription", "w:tblPrChange")


def _repeat_as_header(row: Any) -> None:
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().insert_element_before(element, "w:tblCellSpacing", "w:jc", "w:hidden",
                                                    "w:ins", "w:del", "w:trPrChange")


def _keep_rows_whole(table: Table) -> None:
    """No row breaks across pages: half a village's figures on one page and half on the next is
    read as two rows. (Where w:cantSplit stands among a row's properties is fixed by the schema.)"""
    for row in table.rows:
        trPr = row._tr.get_or_add_trPr()
        if trPr.find(qn("w:cantSplit")) is None:
            trPr.insert_element_before(OxmlElement("w:cantSplit"), "w:trHeight", "w:tblHeader",
                                       "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange")


def _widths(table: Table, widths_cm: list[float]) -> None:
    """Fixed column widths, in the grid (what Word and LibreOffice lay out) and in every cell."""
    table.autofit = False
    for column, width in zip(table.columns, widths_cm):
        column.width = Cm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm):
            cell.width = Cm(width)


def _layout_table(doc: Any, widths_cm: list[float]) -> Table:
    table = doc.add_table(rows=0, cols=len(widths_cm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(table)
    _widths(table, widths_cm)             # rows added later take the grid's widths
    return table


@dataclass(frozen=True)
class Col:
    header: str                        # resolved text
    value: Callable[[Any], str]
    width: float                       # cm
    group: str | None = None           # resolved text of a header spanning consecutive columns
    align: Any = CENTER


def _data_table(doc: Any, columns: list[Col], rows: list[Any], total: Any | None = None,
                total_name: str = "", count_rows: bool = True) -> Table:
    """A bordered table: a one- or two-row header, one row per item, an optional bold total row.
    ``count_rows``: the first column numbers the rows (TT), else it shows its own value."""
    two_rows = any(c.group for c in columns)
    header_rows = 2 if two_rows else 1
    table = doc.add_table(rows=header_rows, cols=len(columns))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    numbered = [(str(i), item, False) for i, item in enumerate(rows, 1)]
    if total is not None:
        numbered.append(("", total, True))
    for _ in numbered:
        table.add_row()
    _widths(table, [c.width for c in columns])

    for i in range(header_rows):
        _repeat_as_header(table.rows[i])
    if two_rows:
        i = 0
        while i < len(columns):
            group = columns[i].group
            if group is None:
                cell = table.cell(0, i).merge(table.cell(1, i))
                _cell_text(cell, columns[i].header, bold=True)
                cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
                i += 1
                continue
            j = i
            while j + 1 < len(columns) and columns[j + 1].group == group:
                j += 1
            top = table.cell(0, i).merge(table.cell(0, j)) if j > i else table.cell(0, i)
            _cell_text(top, group, bold=True)
            for k in range(i, j + 1):
                _cell_text(table.cell(1, k), columns[k].header, bold=True)
                table.cell(1, k).vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            i = j + 1
    else:
        for k, column in enumerate(columns):
            _cell_text(table.cell(0, k), column.header, bold=True)
            table.cell(0, k).vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER

    for r, (no, item, is_total) in enumerate(numbered, header_rows):
        for k, column in enumerate(columns):
            if k == 0 and count_rows:
                text = no
            elif k == 1 and is_total:
                text = total_name
            else:
                text = column.value(item)
            _cell_text(table.cell(r, k), text, bold=is_total, align=column.align)
    return table


# --- the document ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """A shared column (reports.columns) in a Word table."""

    column: str                        # Column.id
    width: float                       # cm
    header: str | None = None          # label key, when the Word table words the header differently
    group: str | None = None           # label key of a header spanning consecutive columns


WORD_INDICATORS = [Place("indicator", 6.2), Place("count", 1.7), Place("base", 1.8), Place("percent", 1.4),
                   Place("target", 1.8), Place("met", 2.3)]
WORD_VILLAGES = [
    Place("name", 3.6), Place("registered", 1.5), Place("new_in_period", 1.5), Place("core_completed", 1.6),
    Place("adult_population", 1.6),
    Place("basic_skills_count", 1.35, "sub_count", "head_basic_skills"),
    Place("basic_skills_percent", 1.35, "sub_percent_of_adults", "head_basic_skills"),
    Place("certified_count", 1.35, "sub_count", "head_certified"),
    Place("certified_percent", 1.35, "sub_percent_of_adults", "head_certified"),
]
# The web chat's figures of each village: no room for them in the table above.
WORD_WEB = [Place("name", 5.2), Place("basic_skills_web", 4.0), Place("certified_web", 4.0)]
WORD_FAMILIES = [Place("name", 5.2), Place("digital_families_base", 2.4, "col_households"),
                 Place("digital_families_count", 2.4, "col_digital_families"),
                 Place("digital_families_percent", 1.8, "col_percent")]
WORD_GROUPS = [
    Place("name", 3.6), Place("registered", 1.5), Place("new_in_period", 1.5), Place("courses_started", 1.5),
    Place("courses_completed", 1.5), Place("core_completed", 1.6),
    Place("group_target_percent", 1.3, "sub_percent", "head_group_target"),
    Place("group_target_target", 1.3, "sub_target", "head_group_target"),
    Place("group_target_met", 1.4, "sub_met", "head_group_target"),
]
WORD_AMBASSADORS = [Place("rank", 1.2), Place("first_name", 3.3), Place("village", 3.5), Place("helped", 2.6),
                    Place("completions", 2.7), Place("people_in_sessions", 2.7)]


def _placed(columns: list[Column], places: list[Place], labels: Labels | None, t: Callable[[str], str],
            numbered: bool = True) -> list[Col]:
    """The Word table's columns: the shared ones at their places, after a TT column if ``numbered``."""
    by_id = {column.id: column for column in columns}
    cols = [Col(t("col_no"), lambda item: "", 0.8)] if numbered else []
    for place in places:
        column = by_id[place.column]
        cols.append(Col(t(place.header or column.header), lambda item, c=column: cell_text(c, item, labels),
                        place.width, t(place.group) if place.group else None,
                        LEFT if column.kind == "text" else CENTER))
    return cols


def _heading(doc: Any, text: str, *, italic: bool = False) -> None:
    """A section's heading after a blank line, kept on the page of what it heads."""
    _paragraph(doc, "", space_after=Pt(0))
    heading = _paragraph(doc, text, bold=not italic, italic=italic, align=JUSTIFY)
    heading.paragraph_format.keep_with_next = True


def _village_table(doc: Any, title: str, places: list[Place], report: Report, figure: str,
                   labels: Labels | None, t: Callable[[str], str]) -> None:
    """A small table of the villages (and the total) that have ``figure``; none if none has it."""
    rows = [r for r in report.villages if getattr(r, figure) is not None]
    total = report.total if report.total is not None and getattr(report.total, figure) is not None else None
    if not rows and total is None:
        return
    _heading(doc, title, italic=True)
    _data_table(doc, _placed(VILLAGE_COLUMNS, places, labels, t), rows, total=total, total_name=t("total_row"))


def _letterhead(doc: Any, report: Report, tz: tzinfo | None, t: Callable[..., str]) -> None:
    """The issuer on the left, the national motto on the right; number and date below."""
    header = _layout_table(doc, [6.5, 9.5])
    top, bottom = header.add_row().cells, header.add_row().cells
    _cell_text(top[0], f"{t('issuer_line1')}\n{t('issuer_line2')}", bold=True, size=Pt(13))
    _cell_text(top[1], t("nation_line1"), bold=True, size=Pt(12))
    motto = top[1].add_paragraph()
    motto.alignment = CENTER
    motto.paragraph_format.space_after = Pt(0)
    motto.paragraph_format.line_spacing = 1.0
    run = motto.add_run(t("nation_line2"))
    run.bold, run.underline, run.font.size = True, True, Pt(13)
    _cell_text(bottom[0], t("doc_number"), size=Pt(13))
    _cell_text(bottom[1], t("place_date", **official_date_parts(report, tz)), italic=True, size=Pt(13))


def _title(doc: Any, report: Report, labels: Labels | None, t: Callable[..., str]) -> None:
    """Title and period, then the introduction and whose figures these are: the assistant's users,
    never the commune's population, so that no reader takes them for the commune's result."""
    _paragraph(doc, "", space_after=Pt(6))
    _paragraph(doc, t("report_title"), bold=True, size=Pt(14), align=CENTER, space_after=Pt(0))
    _paragraph(doc, t("report_subtitle"), bold=True, size=Pt(14), align=CENTER, space_after=Pt(0))
    _paragraph(doc, t("report_period"), italic=True, align=CENTER)
    where = scope(report, labels)
    if where:
        _paragraph(doc, where, italic=True, align=CENTER)
    _paragraph(doc, t("intro"), align=JUSTIFY, indent=True)
    _paragraph(doc, t("basis_note"), align=JUSTIFY, indent=True)


def _tables(doc: Any, report: Report, labels: Labels | None, t: Callable[..., str]) -> None:
    """I. indicators, II. villages with the commune total and two small tables, III. groups, IV. ranking."""
    _paragraph(doc, t("section_indicators"), bold=True, align=JUSTIFY).paragraph_format.keep_with_next = True
    _data_table(doc, _placed(INDICATOR_COLUMNS, WORD_INDICATORS, labels, t), report.indicators)

    _heading(doc, t("section_villages"))
    _data_table(doc, _placed(VILLAGE_COLUMNS, WORD_VILLAGES, labels, t), report.villages, total=report.total,
                total_name=t("total_row"))
    # ... then two small tables: too many columns to sit in the table above. Rows without the
    # figure (residents who chose no village: the figures are per village) are left out.
    _village_table(doc, t("subsection_web"), WORD_WEB, report, "certified_web", labels, t)
    _village_table(doc, t("subsection_digital_families"), WORD_FAMILIES, report, "digital_families", labels, t)

    _heading(doc, t("section_groups"))
    _data_table(doc, _placed(GROUP_COLUMNS, WORD_GROUPS, labels, t), report.groups)

    _heading(doc, t("section_ambassadors"))
    if report.ambassadors:
        _data_table(doc, _placed(AMBASSADOR_COLUMNS, WORD_AMBASSADORS, labels, t, numbered=False),
                    report.ambassadors, count_rows=False)
    else:
        _paragraph(doc, t("ambassadors_none"), align=JUSTIFY, indent=True)
    _paragraph(doc, t("generated_note"), italic=True, size=Pt(11), align=JUSTIFY)


def _written_sections(doc: Any, texts: dict[str, str], labels: Labels | None, t: Callable[..., str]) -> None:
    """V-VIII: each heading, then the official's paragraphs, or a dotted line to write on."""
    for section in SECTIONS:
        _heading(doc, section_heading(section, labels))
        for text in paragraphs(texts[section]) or [t("notes_blank")]:
            _paragraph(doc, text, align=JUSTIFY, indent=True)


def _signature(doc: Any, t: Callable[..., str]) -> None:
    signature = _layout_table(doc, [7.0, 9.0])
    cells = signature.add_row().cells
    _cell_text(cells[0], t("recipients_title"), bold=True, italic=True, size=Pt(12), align=LEFT)
    for line in t("recipients").split("\n"):
        p = cells[0].add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        run = p.add_run(line)
        run.font.size = Pt(11)
    _cell_text(cells[1], f"{t('signer_line1')}\n{t('signer_line2')}", bold=True, size=Pt(13))


def render_docx(report: Report, labels: Labels | None, tz: tzinfo | None = None,
                notes: dict[str, str] | None = None) -> bytes:
    """The report as .docx bytes. ``tz``: the zone to show the generation time and date in.
    ``notes``: the written sections (reports.notes.load_notes); a section not in it, or every
    section when None, shows what the figures suggest (reports.notes.suggested_notes)."""
    values = context(report, labels, tz)
    doc = Document()
    _setup(doc)
    doc.core_properties.title = label(labels, "report_subtitle", **values)

    def t(key: str, **more: Any) -> str:
        return label(labels, key, **{**values, **more})

    _letterhead(doc, report, tz, t)
    _title(doc, report, labels, t)
    _tables(doc, report, labels, t)
    _written_sections(doc, notes_to_print(report, labels, notes), labels, t)
    _signature(doc, t)
    for table in doc.tables:
        _keep_rows_whole(table)

    out = BytesIO()
    doc.save(out)
    return out.getvalue()
