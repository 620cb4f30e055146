"""The periodic report as a Word document, laid out like a commune's periodic report: the
issuer / national motto header, the title and period, a short narrative written from the figures,
then I. indicators, II. villages (with the commune total, then a small table of the digital
families), III. groups, IV. the ranking of the digital ambassadors (thi dua), and the signature
block.

No words live here: all text comes from ``labels`` (knowledge/vi/report.yaml), and the narrative
only restates figures of the report. A missing label shows its key.
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

from admin_api.reports.model import Measure, Report, Row
from admin_api.reports.xlsx import Labels, context, label, met_label, scope

FONT = "Times New Roman"
BODY_SIZE = Pt(13)
TABLE_SIZE = Pt(10)
TEXT_WIDTH_CM = 16.0            # A4 portrait, 3 cm left and 2 cm right margins

CENTER = WD_ALIGN_PARAGRAPH.CENTER
LEFT = WD_ALIGN_PARAGRAPH.LEFT
JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY


# --- figures as text -----------------------------------------------------------------------------

def number(value: int | None, labels: Labels | None) -> str:
    """1.250 with the label's thousands separator; empty when unknown."""
    if value is None:
        return ""
    return f"{value:,}".replace(",", label(labels, "thousands_separator", default="."))


def percent(value: float | None, labels: Labels | None) -> str:
    """45,5 with the label's decimal separator; empty when unknown."""
    if value is None:
        return ""
    return f"{value:.1f}".replace(".", label(labels, "decimal_separator", default=","))


def official_date_parts(report: Report, tz: tzinfo | None) -> dict[str, str]:
    """Day and month as dated documents write them: a leading zero for days 1-9 and months 1-2."""
    when = report.generated_at
    if tz is not None and when.tzinfo is not None:
        when = when.astimezone(tz)
    month = f"{when.month:02d}" if when.month <= 2 else str(when.month)
    return {"day": f"{when.day:02d}", "month": month, "year": str(when.year)}


# --- the narrative -------------------------------------------------------------------------------

def narrative(report: Report, labels: Labels | None, tz: tzinfo | None = None) -> list[str]:
    """Paragraphs restating the report's figures: usage, indicators met or not, missing bases,
    digital families, the best digital ambassador."""
    values = context(report, labels, tz)
    paragraphs: list[str] = []

    total = report.total
    if total is not None:
        paragraphs.append(" ".join([
            label(labels, "narrative_usage", **values, registered=number(total.registered, labels),
                  new_in_period=number(total.new_in_period, labels)),
            label(labels, "narrative_courses", **values, courses_started=number(total.courses_started, labels),
                  courses_completed=number(total.courses_completed, labels)),
            label(labels, "narrative_core", **values, core_completed=number(total.core_completed, labels),
                  core_count=len(report.core_courses)),
        ]))

    met: list[str] = []
    not_met: list[str] = []
    no_target: list[str] = []
    no_percent: list[str] = []
    for indicator in report.indicators:
        m = indicator.measure
        figures = {"label": indicator.label, "count": number(m.count, labels),
                   "percent": percent(m.percent, labels), "target": m.target_percent}
        if m.percent is None:
            no_percent.append(label(labels, "item_count", **figures))
        elif m.target_percent is None:
            no_target.append(label(labels, "item_percent", **figures))
        else:
            (met if m.met else not_met).append(label(labels, "item_with_target", **figures))
    sentences = [label(labels, key, **values, items="; ".join(items))
                 for key, items in (("narrative_met", met), ("narrative_not_met", not_met),
                                    ("narrative_no_target", no_target), ("narrative_no_percent", no_percent))
                 if items]
    if sentences:
        paragraphs.append(" ".join(sentences))

    missing = [row.name for row in report.villages if row.id is not None and not row.adult_population]
    if missing:
        paragraphs.append(label(labels, "narrative_no_population", **values, villages=", ".join(missing)))

    families = total.digital_families if total is not None else None
    if families is not None:
        figures = {"digital_families": number(families.count, labels), "households": number(families.base, labels),
                   "percent": percent(families.percent, labels)}
        sentences = [label(labels, "narrative_digital_families" if families.percent is not None
                           else "narrative_digital_families_no_households", **values, **figures)]
        no_households = [row.name for row in report.villages if row.id is not None and not row.households]
        if families.percent is None and no_households:
            sentences.append(label(labels, "narrative_no_households", **values, villages=", ".join(no_households)))
        paragraphs.append(" ".join(sentences))

    if report.ambassadors:
        best = report.ambassadors[0]
        paragraphs.append(label(labels, "narrative_best_ambassador" if best.village
                                else "narrative_best_ambassador_no_village", **values,
                                first_name=best.first_name or label(labels, "ambassador_unnamed"),
                                village=best.village, helped=number(best.helped, labels),
                                completions=number(best.completions, labels),
                                people_in_sessions=number(best.people_in_sessions, labels)))
    return paragraphs


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

def _measure_part(attr: str, part: str, labels: Labels | None) -> Callable[[Row], str]:
    def get(row: Row) -> str:
        m: Measure | None = getattr(row, attr)
        if m is None:
            return ""
        if part == "count":
            return number(m.count, labels)
        if part == "percent":
            return percent(m.percent, labels)
        if part == "base":
            return number(m.base, labels)
        if part == "target":
            return number(m.target_percent, labels)
        return met_label(m, labels)
    return get


def render_docx(report: Report, labels: dict[str, str], tz: tzinfo | None = None) -> bytes:
    """The report as .docx bytes. ``tz``: the zone to show the generation time and date in."""
    values = context(report, labels, tz)
    doc = Document()
    _setup(doc)
    doc.core_properties.title = label(labels, "report_subtitle", **values)

    def t(key: str, **more: Any) -> str:
        return label(labels, key, **{**values, **more})

    # Header: the issuer on the left, the national motto on the right; number and date below.
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

    # Title and period.
    _paragraph(doc, "", space_after=Pt(6))
    _paragraph(doc, t("report_title"), bold=True, size=Pt(14), align=CENTER, space_after=Pt(0))
    _paragraph(doc, t("report_subtitle"), bold=True, size=Pt(14), align=CENTER, space_after=Pt(0))
    _paragraph(doc, t("report_period"), italic=True, align=CENTER)
    where = scope(report, labels)
    if where:
        _paragraph(doc, where, italic=True, align=CENTER)

    # What the figures say.
    _paragraph(doc, t("intro"), align=JUSTIFY, indent=True)
    for text in narrative(report, labels, tz):
        _paragraph(doc, text, align=JUSTIFY, indent=True)

    # I. Indicators.
    _paragraph(doc, t("section_indicators"), bold=True, align=JUSTIFY)
    _data_table(doc, [
        Col(t("col_no"), lambda i: "", 0.8),
        Col(t("col_indicator"), lambda i: i.label, 6.2, align=LEFT),
        Col(t("col_count"), lambda i: number(i.measure.count, labels), 1.7),
        Col(t("col_base"), lambda i: number(i.measure.base, labels), 1.8),
        Col(t("col_percent"), lambda i: percent(i.measure.percent, labels), 1.4),
        Col(t("col_target"), lambda i: number(i.measure.target_percent, labels), 1.8),
        Col(t("col_met"), lambda i: met_label(i.measure, labels), 2.3),
    ], report.indicators)

    # II. Villages, with the commune total.
    _paragraph(doc, "", space_after=Pt(0))
    _paragraph(doc, t("section_villages"), bold=True, align=JUSTIFY)
    basic, certified = t("head_basic_skills"), t("head_certified")
    _data_table(doc, [
        Col(t("col_no"), lambda r: "", 0.8),
        Col(t("col_village"), lambda r: r.name, 3.6, align=LEFT),
        Col(t("col_registered"), lambda r: number(r.registered, labels), 1.5),
        Col(t("col_new_in_period"), lambda r: number(r.new_in_period, labels), 1.5),
        Col(t("col_core_completed"), lambda r: number(r.core_completed, labels), 1.6),
        Col(t("col_adult_population"), lambda r: number(r.adult_population, labels), 1.6),
        Col(t("sub_count"), _measure_part("basic_skills", "count", labels), 1.35, basic),
        Col(t("sub_percent"), _measure_part("basic_skills", "percent", labels), 1.35, basic),
        Col(t("sub_count"), _measure_part("certified", "count", labels), 1.35, certified),
        Col(t("sub_percent"), _measure_part("certified", "percent", labels), 1.35, certified),
    ], report.villages, total=report.total, total_name=t("total_row"))

    # ... and the digital families of each village: too many columns to sit in the table above.
    # Rows without the figure (residents who chose no village: households are per village) are left out.
    _paragraph(doc, "", space_after=Pt(0))
    _paragraph(doc, t("subsection_digital_families"), italic=True, align=JUSTIFY)
    _data_table(doc, [
        Col(t("col_no"), lambda r: "", 0.8),
        Col(t("col_village"), lambda r: r.name, 5.2, align=LEFT),
        Col(t("col_households"), _measure_part("digital_families", "base", labels), 2.4),
        Col(t("col_digital_families"), _measure_part("digital_families", "count", labels), 2.4),
        Col(t("col_percent"), _measure_part("digital_families", "percent", labels), 1.8),
    ], [r for r in report.villages if r.digital_families is not None],
        total=report.total if report.total is not None and report.total.digital_families is not None else None,
        total_name=t("total_row"))

    # III. Groups.
    _paragraph(doc, "", space_after=Pt(0))
    _paragraph(doc, t("section_groups"), bold=True, align=JUSTIFY)
    target = t("head_group_target")
    _data_table(doc, [
        Col(t("col_no"), lambda r: "", 0.8),
        Col(t("col_group"), lambda r: r.name, 3.6, align=LEFT),
        Col(t("col_registered"), lambda r: number(r.registered, labels), 1.5),
        Col(t("col_new_in_period"), lambda r: number(r.new_in_period, labels), 1.5),
        Col(t("col_courses_started"), lambda r: number(r.courses_started, labels), 1.5),
        Col(t("col_courses_completed"), lambda r: number(r.courses_completed, labels), 1.5),
        Col(t("col_core_completed"), lambda r: number(r.core_completed, labels), 1.6),
        Col(t("sub_percent"), _measure_part("group_target", "percent", labels), 1.3, target),
        Col(t("sub_target"), _measure_part("group_target", "target", labels), 1.3, target),
        Col(t("sub_met"), _measure_part("group_target", "met", labels), 1.4, target),
    ], report.groups)

    # IV. The ranking of the digital ambassadors.
    _paragraph(doc, "", space_after=Pt(0))
    _paragraph(doc, t("section_ambassadors"), bold=True, align=JUSTIFY)
    if report.ambassadors:
        _data_table(doc, [
            Col(t("col_rank"), lambda a: number(a.rank, labels), 1.2),
            Col(t("col_first_name"), lambda a: a.first_name, 3.3, align=LEFT),
            Col(t("col_ambassador_village"), lambda a: a.village, 3.5, align=LEFT),
            Col(t("col_helped"), lambda a: number(a.helped, labels), 2.6),
            Col(t("col_helped_completions"), lambda a: number(a.completions, labels), 2.7),
            Col(t("col_people_in_sessions"), lambda a: number(a.people_in_sessions, labels), 2.7),
        ], report.ambassadors, count_rows=False)
    else:
        _paragraph(doc, t("ambassadors_none"), align=JUSTIFY, indent=True)

    _paragraph(doc, t("generated_note"), italic=True, size=Pt(11), align=JUSTIFY)

    # Recipients and signature.
    signature = _layout_table(doc, [7.0, 9.0])
    cells = signature.add_row().cells
    _cell_text(cells[0], t("recipients_title"), bold=True, italic=True, size=Pt(12), align=LEFT)
    for line in t("recipients").split("\n"):
        p = cells[0].add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        run = p.add_run(line)
        run.font.size = Pt(11)
    _cell_text(cells[1], f"{t('signer_line1')}\n{t('signer_line2')}", bold=True, size=Pt(13))

    out = BytesIO()
    doc.save(out)
    return out.getvalue()
