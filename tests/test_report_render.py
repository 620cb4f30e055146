"""The periodic report's XLSX and DOCX renderers, on a small report built by hand.

All words come from knowledge/vi/report.yaml, so the assertions look them up there too.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
import pytest
import yaml

from admin_api.reports.docx import render_docx
from admin_api.reports.narrative import narrative
from admin_api.reports.notes import suggested_notes
from admin_api.reports.model import AmbassadorRow, Indicator, Measure, Report, Row
from admin_api.reports.xlsx import label, render_xlsx, sheet_name

REPO = Path(__file__).resolve().parents[1]
LABELS_FILE = REPO / "knowledge" / "vi" / "report.yaml"
DASH = "\u2014"


@pytest.fixture(scope="module")
def labels() -> dict[str, str]:
    return yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))["labels"]


def make_report(village_filter: str | None = None) -> Report:
    na_lo = Row("ban-na-lo", "Ban Na Lo", registered=40, new_in_period=12, courses_started=55,
                courses_completed=48, core_completed=15, adult_population=200, households=60,
                basic_skills=Measure(14, 200, 80), certified=Measure(9, 200, 50),
                digital_families=Measure(20, 60))
    tk1 = Row("tieu-khu-1", "Tieu khu 1", registered=25, new_in_period=5, courses_started=20,
              courses_completed=18, core_completed=6, adult_population=None, households=None,
              basic_skills=Measure(5, None, 80), certified=Measure(2, None, 50),
              digital_families=Measure(4, None))
    total = Row(None, "Thuan Chau", registered=65, new_in_period=17, courses_started=75,
                courses_completed=66, core_completed=21, adult_population=None, households=None,
                basic_skills=Measure(19, None, 80), certified=Measure(11, None, 50),
                digital_families=Measure(24, None))
    officials = Row("can-bo", "Can bo cong chuc", registered=10, new_in_period=2, courses_started=12,
                    courses_completed=11, core_completed=8, group_target=Measure(8, 10, 80))
    residents = Row("nguoi-dan", "Nguoi dan", registered=55, new_in_period=15, courses_started=63,
                    courses_completed=55, core_completed=13)
    return Report(
        commune="Thuan Chau", period_from=date(2025, 7, 1), period_to=date(2025, 9, 30), year=2025,
        generated_at=datetime(2025, 10, 1, 1, 30, tzinfo=timezone.utc), village_filter=village_filter,
        core_courses=["vneid", "an-toan-mang", "thanh-toan-so"],
        indicators=[
            Indicator("ky-nang-so-co-ban", "Adults with basic digital skills", Measure(19, None, 80)),
            Indicator("can-bo", "Officials trained", Measure(8, 10, 80)),
            Indicator("hoc-sinh", "Pupils trained", Measure(3, 12, 100)),
            Indicator("xac-nhan-vneid", "Certified on VNeID (self-reported)", Measure(11, None, 50),
                      self_reported=True),
        ],
        villages=[na_lo, tk1], groups=[officials, residents], total=total,
        ambassadors=[AmbassadorRow(1, "Mai", "Ban Na Lo", helped=7, completions=12, people_in_sessions=15),
                     AmbassadorRow(2, "Hung", "Tieu khu 1", helped=3, completions=4, people_in_sessions=0)])


def zero_report() -> Report:
    """Nobody uses the assistant yet: every count is nought."""
    report = make_report()
    village = Row("ban-na-lo", "Ban Na Lo", adult_population=200, households=60, basic_skills=Measure(0, 200, 80),
                  certified=Measure(0, 200, 50), digital_families=Measure(0, 60))
    report.villages = [village]
    report.groups = [Row("can-bo", "Can bo cong chuc", group_target=Measure(0, None, 80))]
    report.total = Row(None, "Thuan Chau", adult_population=200, households=60, basic_skills=Measure(0, 200, 80),
                       certified=Measure(0, 200, 50), digital_families=Measure(0, 60))
    report.indicators = [Indicator("ky-nang-so-co-ban", "Adults with basic digital skills", Measure(0, 200, 80)),
                         Indicator("can-bo", "Officials trained", Measure(0, None, 80)),
                         Indicator("xac-nhan-vneid", "Certified (self-reported)", Measure(0, 200, 50),
                                   self_reported=True)]
    report.ambassadors = []
    return report


def some_zero_report(started: int, completed: int) -> Report:
    """Residents, but no newcomer, no one through the core courses, no family, no self-report;
    the courses started and completed given; an ambassador with hands-on sessions only."""
    report = zero_report()
    report.total.registered, report.total.new_in_period = 5, 0
    report.total.courses_started, report.total.courses_completed = started, completed
    report.ambassadors = [AmbassadorRow(1, "Mai", "Ban Na Lo", helped=0, completions=0, people_in_sessions=4)]
    return report


# A count written as a bare nought ("có 0 người", "0/60 hộ"); not 0,0% nor a date or a larger number.
BARE_ZERO = re.compile(r"(?<![\d.,])0(?![\d.,%])")


def open_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(BytesIO(data))


def open_docx(data: bytes):
    return docx.Document(BytesIO(data))


def header_index(ws, labels, key: str, year: int = 2025) -> int:
    """1-based column of the header labelled ``key`` on row 2."""
    wanted = label(labels, key, year=year)
    headers = [c.value for c in ws[2]]
    assert wanted in headers, (wanted, headers)
    return headers.index(wanted) + 1


def row_named(ws, name: str) -> int:
    rows = [r for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value == name]
    assert len(rows) == 1, (name, [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)])
    return rows[0]


def table_with_header(document, *texts: str):
    """The one table whose first row has every one of ``texts``."""
    found = [t for t in document.tables if set(texts) <= {c.text for c in t.rows[0].cells}]
    assert len(found) == 1, texts
    return found[0]


def data_row(table, name: str) -> list[str]:
    rows = [[c.text for c in row.cells] for row in table.rows if row.cells[1].text == name]
    assert len(rows) == 1, (name, [[c.text for c in row.cells] for row in table.rows])
    return rows[0]


# --- the labels file -------------------------------------------------------------------------------

class RecordingLabels(dict):
    """The labels, noting every key a renderer asks for."""

    def __init__(self, data):
        super().__init__(data)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def every_branch() -> list[Report]:
    """Reports that take every branch of the wording: one village, households entered, no
    ambassador, ambassadors with some figures nought, nothing at all, only some figures nought."""
    scoped = make_report(village_filter="ban-na-lo")
    scoped.total.basic_skills_web, scoped.total.certified_web = 1, 3
    entered = make_report()
    entered.total.digital_families = Measure(24, 100)
    entered.total.basic_skills_web, entered.total.certified_web = 2, 0
    entered.ambassadors = []
    entered.indicators[-1].measure = Measure(0, 100, 50)
    unnamed = make_report()
    unnamed.ambassadors = [AmbassadorRow(1, "", "", 1, 0, 0)]
    unnamed.total.basic_skills_web, unnamed.total.certified_web = 0, 3
    unnamed.indicators[-1].measure = Measure(30, 100, 50)
    sessions_only = make_report()
    sessions_only.ambassadors = [AmbassadorRow(1, "Mai", "Ban Na Lo", 0, 0, 4)]
    completions_only = make_report()
    completions_only.ambassadors = [AmbassadorRow(1, "Mai", "Ban Na Lo", 0, 2, 0)]
    over = make_report()          # figures above their bases, and an indicator without a target
    over.villages[0].basic_skills = Measure(250, 200, 80)
    over.villages[0].digital_families = Measure(70, 60, basis="households")
    over.groups[0].group_target = Measure(12, 10, 80, basis="registered")
    over.indicators[0].measure = Measure(250, 200, 80)
    over.indicators.append(Indicator("khac", "Without a target", Measure(3, 10)))
    return [scoped, entered, unnamed, sessions_only, completions_only, over, zero_report(),
            *(some_zero_report(started, completed) for started, completed in ((3, 0), (0, 2), (0, 0)))]


def test_every_label_is_in_the_content_file_and_every_label_there_is_used(labels):
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in labels), sorted(labels)
    assert all(isinstance(v, str) and v for v in labels.values())
    recorder = RecordingLabels(labels)
    for report in every_branch():
        render_xlsx(report, recorder)
        render_docx(report, recorder)
    assert recorder.asked <= set(labels), sorted(recorder.asked - set(labels))
    # Used by reports.progress, not by the renderers: a row's name, and the self-reported indicator's.
    elsewhere = {"no_village", "no_group", "indicator_self_reported"}
    assert set(labels) - recorder.asked == elsewhere, sorted(set(labels) - recorder.asked)


def test_label_falls_back_to_its_key_and_never_raises_on_a_broken_template():
    assert label({}, "col_registered") == "col_registered"
    assert label(None, "met_yes") == "met_yes"
    assert label({"a": "{x} and {unknown}"}, "a", x=3) == "3 and {unknown}"
    assert label({"a": "{x"}, "a", x=3) == "{x"
    assert label({"a": "{0} {x.real.bad}"}, "a", x=3) == "{0} {x.real.bad}"


# --- XLSX ------------------------------------------------------------------------------------------

def test_xlsx_sheets_titles_and_headers(labels):
    wb = open_xlsx(render_xlsx(make_report(), labels))
    assert wb.sheetnames == [labels["sheet_indicators"], labels["sheet_villages"], labels["sheet_groups"],
                             labels["sheet_ambassadors"]]
    for ws in wb.worksheets:
        title = ws["A1"].value
        assert "Thuan Chau" in title and "01/07/2025" in title and "30/09/2025" in title
        assert "01/10/2025 01:30" in title
        assert ws["A1"].font.bold
        assert all(c.font.bold for c in ws[2] if c.value is not None)
        assert ws.freeze_panes == "B3"
        assert all(ws.column_dimensions[letter].width >= 8 for letter in "ABCDEF")
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                assert cell.value != DASH and not (isinstance(cell.value, str) and cell.value.strip() == DASH)
    villages = wb[labels["sheet_villages"]]
    assert villages.cell(2, 1).value == labels["col_village"]
    assert villages.cell(2, 2).value == labels["col_registered"]


def test_xlsx_villages_figures_total_and_unknown_percent(labels):
    ws = open_xlsx(render_xlsx(make_report(), labels))[labels["sheet_villages"]]
    registered = header_index(ws, labels, "col_registered")
    population = header_index(ws, labels, "col_adult_population")
    households = header_index(ws, labels, "col_households")
    basic_count = header_index(ws, labels, "col_basic_skills_count")
    basic_percent = header_index(ws, labels, "col_basic_skills_percent")
    basic_target = header_index(ws, labels, "col_basic_skills_target")
    certified_percent = header_index(ws, labels, "col_certified_percent")

    na_lo = row_named(ws, "Ban Na Lo")
    assert ws.cell(na_lo, registered).value == 40
    assert ws.cell(na_lo, population).value == 200
    assert ws.cell(na_lo, households).value == 60
    assert ws.cell(na_lo, basic_count).value == 14
    assert ws.cell(na_lo, basic_percent).value == pytest.approx(7.0)
    assert ws.cell(na_lo, basic_percent).number_format == "0.0"
    assert ws.cell(na_lo, certified_percent).value == pytest.approx(4.5)
    assert ws.cell(na_lo, basic_target).value == 80

    tk1 = row_named(ws, "Tieu khu 1")
    assert ws.cell(tk1, registered).value == 25
    assert ws.cell(tk1, basic_count).value == 5
    assert ws.cell(tk1, population).value is None
    assert ws.cell(tk1, basic_percent).value is None
    assert ws.cell(tk1, certified_percent).value is None

    total = row_named(ws, labels["total_row"])
    assert total == ws.max_row == 5                       # title, header, 2 villages, total
    assert ws.cell(total, registered).value == 65
    assert ws.cell(total, header_index(ws, labels, "col_core_completed")).value == 21
    assert ws.cell(total, basic_count).value == 19
    assert ws.cell(total, basic_percent).value is None
    assert ws.cell(total, registered).font.bold


def test_xlsx_villages_digital_families(labels):
    ws = open_xlsx(render_xlsx(make_report(), labels))[labels["sheet_villages"]]
    columns = [header_index(ws, labels, key) for key in ("col_digital_families_count", "col_digital_families_base",
                                                         "col_digital_families_percent")]
    assert columns == list(range(columns[0], columns[0] + 3)) and columns[-1] == ws.max_column
    assert [ws.cell(row_named(ws, "Ban Na Lo"), c).value for c in columns] == [20, 60, pytest.approx(33.3)]
    assert ws.cell(row_named(ws, "Ban Na Lo"), columns[2]).number_format == "0.0"
    assert [ws.cell(row_named(ws, "Tieu khu 1"), c).value for c in columns] == [4, None, None]
    total = row_named(ws, labels["total_row"])
    assert [ws.cell(total, c).value for c in columns] == [24, None, None]
    assert ws.cell(total, columns[0]).font.bold


def test_xlsx_ambassador_ranking(labels):
    ws = open_xlsx(render_xlsx(make_report(), labels))[labels["sheet_ambassadors"]]
    assert [c.value for c in ws[2]] == [labels[k] for k in ("col_rank", "col_first_name", "col_ambassador_village",
                                                            "col_helped", "col_helped_completions",
                                                            "col_people_in_sessions")]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=3)] == [
        [1, "Mai", "Ban Na Lo", 7, 12, 15],
        [2, "Hung", "Tieu khu 1", 3, 4, 0],
    ]
    assert ws.max_row == 4 and ws.auto_filter.ref == "A2:F4"


def test_xlsx_ambassador_names_are_text_never_formulas(labels):
    report = make_report()
    report.ambassadors[0].first_name = "=HYPERLINK(\"http://x\")\x07"
    ws = open_xlsx(render_xlsx(report, labels))[labels["sheet_ambassadors"]]
    assert ws["B3"].value == "=HYPERLINK(\"http://x\")" and ws["B3"].data_type == "s"


def test_xlsx_with_no_ambassadors_keeps_the_sheet_with_a_note(labels):
    report = make_report()
    report.ambassadors = []
    ws = open_xlsx(render_xlsx(report, labels))[labels["sheet_ambassadors"]]
    assert ws.cell(2, 1).value == labels["col_rank"] and ws.cell(2, 6).value == labels["col_people_in_sessions"]
    assert ws["A3"].value == labels["ambassadors_none"] and ws["A3"].font.italic
    assert ws.max_row == 3 and all(ws.cell(3, c).value is None for c in range(2, 7))
    assert ws.auto_filter.ref is None


def test_xlsx_indicators_and_groups(labels):
    wb = open_xlsx(render_xlsx(make_report(), labels))
    ws = wb[labels["sheet_indicators"]]
    count, base = header_index(ws, labels, "col_count"), header_index(ws, labels, "col_base")
    pct, target = header_index(ws, labels, "col_percent"), header_index(ws, labels, "col_target")
    met = header_index(ws, labels, "col_met")
    officials = row_named(ws, "Officials trained")
    assert [ws.cell(officials, c).value for c in (count, base, pct, target, met)] == [8, 10, 80.0, 80,
                                                                                       labels["met_yes"]]
    pupils = row_named(ws, "Pupils trained")
    assert ws.cell(pupils, pct).value == pytest.approx(25.0)
    assert ws.cell(pupils, met).value == labels["met_no"]
    adults = row_named(ws, "Adults with basic digital skills")
    assert ws.cell(adults, count).value == 19
    assert ws.cell(adults, base).value is None and ws.cell(adults, pct).value is None
    assert ws.cell(adults, met).value == labels["met_unknown"]

    ws = wb[labels["sheet_groups"]]
    assert ws.max_row == 4                                # title, header, 2 groups
    g_count = header_index(ws, labels, "col_group_target_count")
    g_base = header_index(ws, labels, "col_group_target_base")
    g_pct = header_index(ws, labels, "col_group_target_percent")
    g_target = header_index(ws, labels, "col_group_target_target")
    officials = row_named(ws, "Can bo cong chuc")
    assert ws.cell(officials, header_index(ws, labels, "col_registered")).value == 10
    assert ws.cell(officials, header_index(ws, labels, "col_core_completed")).value == 8
    assert [ws.cell(officials, c).value for c in (g_count, g_base, g_pct, g_target)] == [8, 10, 80.0, 80]
    residents = row_named(ws, "Nguoi dan")
    assert ws.cell(residents, header_index(ws, labels, "col_new_in_period")).value == 15
    assert [ws.cell(residents, c).value for c in (g_count, g_base, g_pct, g_target)] == [None] * 4
    assert ws.cell(residents, header_index(ws, labels, "col_group_target_met")).value is None


def test_xlsx_sheet_names_are_made_valid(labels):
    bad = dict(labels, sheet_indicators="Chi tieu: [2025/2026] *?\\ " + "x" * 40,
               sheet_villages="'Nhom'", sheet_groups="Nhom", sheet_ambassadors="NHOM")
    names = open_xlsx(render_xlsx(make_report(), bad)).sheetnames
    assert len(names) == 4 and len({n.casefold() for n in names}) == 4
    for name in names:
        assert 0 < len(name) <= 31 and not set(name) & set("[]:*?/\\") and name[0] != "'" and name[-1] != "'"
    assert names[0].startswith("Chi tieu")
    assert names[1] == "Nhom" and names[2] == "Nhom (2)" and names[3] == "NHOM (3)"
    assert sheet_name("History", set()) != "History"


def test_xlsx_with_no_labels_shows_keys_and_still_renders():
    wb = open_xlsx(render_xlsx(make_report(), {}))
    assert wb.sheetnames == ["sheet_indicators", "sheet_villages", "sheet_groups", "sheet_ambassadors"]
    ws = wb["sheet_villages"]
    assert ws.cell(2, 2).value == "col_registered"
    assert ws.cell(row_named(ws, "total_row"), 2).value == 65


def test_xlsx_generation_time_in_the_given_zone_and_village_scope(labels):
    report = make_report(village_filter="ban-na-lo")
    title = open_xlsx(render_xlsx(report, labels, tz=ZoneInfo("Asia/Ho_Chi_Minh"))).worksheets[0]["A1"].value
    assert "01/10/2025 08:30" in title and "UTC" not in title
    assert label(labels, "scope_village", village="Ban Na Lo") in title


# --- DOCX ------------------------------------------------------------------------------------------

def test_docx_header_block_title_and_sections(labels):
    document = open_docx(render_docx(make_report(), labels, tz=ZoneInfo("Asia/Ho_Chi_Minh")))
    header = document.tables[0]
    assert len(header.columns) == 2
    left, right = header.cell(0, 0).text, header.cell(0, 1).text
    assert labels["issuer_line1"] in left and "THUAN CHAU" in left
    assert labels["nation_line1"] in right and labels["nation_line2"] in right
    borders = header._tbl.tblPr.find(docx.oxml.ns.qn("w:tblBorders"))
    assert borders is not None
    assert {b.get(docx.oxml.ns.qn("w:val")) for b in borders} == {"nil"}
    assert header.cell(1, 1).text == label(labels, "place_date", day="01", month="10", year="2025")

    texts = [p.text for p in document.paragraphs]
    for key in ("report_title", "report_subtitle", "section_indicators", "section_villages", "section_groups",
                "section_ambassadors", "subsection_digital_families"):
        assert labels[key] in texts, key
    assert texts.index(labels["section_indicators"]) < texts.index(labels["section_villages"]) \
        < texts.index(labels["subsection_digital_families"]) < texts.index(labels["section_groups"]) \
        < texts.index(labels["section_ambassadors"]) < texts.index(label(labels, "generated_note",
                                                                         generated_at="01/10/2025 08:30"))
    assert labels["ambassadors_none"] not in texts
    assert label(labels, "report_period", period_from="01/07/2025", period_to="30/09/2025") in texts


def test_docx_tables_hold_the_figures(labels):
    document = open_docx(render_docx(make_report(), labels))
    dec = labels["decimal_separator"]

    indicators = table_with_header(document, labels["col_indicator"])
    assert data_row(indicators, "Officials trained") == ["2", "Officials trained", "8", "10", f"80{dec}0", "80",
                                                         labels["met_yes"]]
    assert data_row(indicators, "Pupils trained")[4:] == [f"25{dec}0", "100", labels["met_no"]]
    assert data_row(indicators, "Adults with basic digital skills")[2:] == ["19", "", "", "80",
                                                                           labels["met_unknown"]]

    villages = table_with_header(document, labels["col_village"], labels["col_registered"])
    assert villages.rows[0].cells[6].text == labels["head_basic_skills"]
    assert villages.rows[1].cells[6].text == labels["sub_count"]
    #          TT   name         reg   new   core  adults  basic n, %     certified n, %
    assert data_row(villages, "Ban Na Lo") == ["1", "Ban Na Lo", "40", "12", "15", "200", "14", f"7{dec}0",
                                               "9", f"4{dec}5"]
    assert data_row(villages, "Tieu khu 1") == ["2", "Tieu khu 1", "25", "5", "6", "", "5", "", "2", ""]
    total = data_row(villages, labels["total_row"])
    assert total == ["", labels["total_row"], "65", "17", "21", "", "19", "", "11", ""]
    assert villages.rows[-1].cells[2].paragraphs[0].runs[0].bold

    groups = table_with_header(document, labels["col_group"])
    #              TT   name                 reg   new  start  done  core  %          target  met
    assert data_row(groups, "Can bo cong chuc") == ["1", "Can bo cong chuc", "10", "2", "12", "11", "8",
                                                    f"80{dec}0", "80", labels["met_yes"]]
    assert data_row(groups, "Nguoi dan") == ["2", "Nguoi dan", "55", "15", "63", "55", "13", "", "", ""]
    assert len(groups.rows) == 4                          # two header rows, two groups

    families = table_with_header(document, labels["col_village"], labels["col_digital_families"])
    assert [c.text for c in families.rows[0].cells] == [labels["col_no"], labels["col_village"],
                                                        labels["col_households"], labels["col_digital_families"],
                                                        labels["col_percent"]]
    assert data_row(families, "Ban Na Lo") == ["1", "Ban Na Lo", "60", "20", f"33{dec}3"]
    assert data_row(families, "Tieu khu 1") == ["2", "Tieu khu 1", "", "4", ""]
    assert data_row(families, labels["total_row"]) == ["", labels["total_row"], "", "24", ""]
    assert len(families.rows) == 4 and families.rows[-1].cells[3].paragraphs[0].runs[0].bold

    ranking = table_with_header(document, labels["col_rank"])
    assert [c.text for c in ranking.rows[0].cells] == [labels[k] for k in (
        "col_rank", "col_first_name", "col_ambassador_village", "col_helped", "col_helped_completions",
        "col_people_in_sessions")]
    assert [[c.text for c in row.cells] for row in ranking.rows[1:]] == [
        ["1", "Mai", "Ban Na Lo", "7", "12", "15"],
        ["2", "Hung", "Tieu khu 1", "3", "4", "0"],
    ]

    for table in document.tables:
        assert all(DASH not in cell.text for row in table.rows for cell in row.cells)


def test_docx_narrative_restates_the_figures(labels):
    report = make_report()
    paragraphs = narrative(report, labels)
    text = " ".join(paragraphs)
    assert label(labels, "narrative_usage", period_to="30/09/2025", registered="65", new_in_period="17") in text
    assert label(labels, "narrative_courses", courses_started="75", courses_completed="66") in text
    assert label(labels, "narrative_core", core_completed="21", core_count=3) in text
    dec = labels["decimal_separator"]
    assert label(labels, "narrative_met", items=label(labels, "item_with_target", label="Officials trained",
                                                      percent=f"80{dec}0", target=80)) in text
    assert label(labels, "narrative_not_met", items=label(labels, "item_with_target", label="Pupils trained",
                                                          percent=f"25{dec}0", target=100)) in text
    assert label(labels, "narrative_no_percent", items=label(labels, "item_count",
                                                             label="Adults with basic digital skills",
                                                             count="19")) in text
    best = label(labels, "narrative_best_ambassador", first_name="Mai", village="Ban Na Lo",
                 deeds=label(labels, "deeds_helped_and_sessions", helped="7", people_in_sessions="15"))
    assert best in paragraphs and paragraphs[-1] == best
    assert not any("Ban Na Lo" in p for p in paragraphs if p != best)
    assert "Hung" not in text                             # only the best ambassador is named
    # The households of Tieu khu 1 are not entered: the count, no percent; which village is a difficulty.
    assert label(labels, "narrative_digital_families_no_households", digital_families="24") in paragraphs
    assert label(labels, "narrative_digital_families", digital_families="24", households="", percent="")[:12] \
        not in text
    difficulties = suggested_notes(report, labels)["difficulties"].split("\n")
    assert label(labels, "difficulty_no_population", villages="Tieu khu 1") in difficulties
    assert label(labels, "difficulty_no_households", villages="Tieu khu 1") in difficulties

    document_text = "\n".join(p.text for p in open_docx(render_docx(report, labels)).paragraphs)
    assert all(p in document_text for p in paragraphs)
    assert label(labels, "intro", commune="Thuan Chau", period_from="01/07/2025", period_to="30/09/2025") \
        in document_text


def test_docx_narrative_without_missing_populations_or_targets(labels):
    report = make_report()
    report.villages = report.villages[:1]
    report.indicators = report.indicators[1:2]
    text = " ".join(narrative(report, labels))
    assert "Tieu khu 1" not in text
    assert labels["narrative_not_met"].split("{items}")[0] not in text
    assert "Officials trained" in text
    assert "Tieu khu 1" not in " ".join(suggested_notes(report, labels).values())


def test_docx_narrative_digital_families_with_households_entered(labels):
    report = make_report()
    report.villages[1].households = 40
    report.total.digital_families = Measure(24, 100)
    paragraphs = narrative(report, labels)
    dec = labels["decimal_separator"]
    assert label(labels, "narrative_digital_families", digital_families="24", households="100",
                 percent=f"24{dec}0") in paragraphs
    assert labels["difficulty_no_households"].split("{villages}")[0] not in suggested_notes(report, labels)[
        "difficulties"]


def test_docx_without_ambassadors(labels):
    report = make_report()
    report.ambassadors = []
    text = " ".join(narrative(report, labels))
    assert "Mai" not in text
    assert labels["narrative_best_ambassador"][:20] not in text

    document = open_docx(render_docx(report, labels))
    texts = [p.text for p in document.paragraphs]
    assert texts[texts.index(labels["section_ambassadors"]) + 1] == labels["ambassadors_none"]
    assert not [t for t in document.tables if labels["col_rank"] in {c.text for c in t.rows[0].cells}]
    assert all("Mai" not in c.text for t in document.tables for row in t.rows for c in row.cells)


def test_docx_best_ambassador_without_village_or_name_and_odd_characters(labels):
    report = make_report()
    report.ambassadors = [AmbassadorRow(1, "", "", helped=2, completions=1, people_in_sessions=0),
                          AmbassadorRow(2, "Lan\x07", "Ban Na Lo", helped=1, completions=0, people_in_sessions=3)]
    paragraphs = narrative(report, labels)
    assert paragraphs[-1] == label(labels, "narrative_best_ambassador_no_village",
                                   first_name=labels["ambassador_unnamed"],
                                   deeds=label(labels, "deeds_helped", helped="2"))
    ranking = table_with_header(open_docx(render_docx(report, labels)), labels["col_rank"])
    assert [c.text for c in ranking.rows[2].cells] == ["2", "Lan", "Ban Na Lo", "1", "0", "3"]
    assert [c.text for c in ranking.rows[1].cells][:3] == ["1", "", ""]


def test_docx_with_no_labels_shows_keys_and_still_renders():
    document = open_docx(render_docx(make_report(), {}))
    texts = [p.text for p in document.paragraphs]
    assert "section_villages" in texts and "report_title" in texts and "section_ambassadors" in texts
    villages = table_with_header(document, "col_village", "col_registered")
    assert data_row(villages, "total_row")[2] == "65"


# --- what the figures count: the assistant's users, not the commune ----------------------------------

ASSISTANT = "trợ lý số"                      # the words every title and heading of the figures carries
NOT_EVERYONE = "không phải toàn bộ dân số"
SELF_REPORTED = ("tự báo", "chưa đối chiếu")


def says_self_reported(text: str) -> bool:
    return all(words in text.lower() for words in SELF_REPORTED)


def test_the_title_headings_and_narrative_say_the_figures_count_the_assistants_users(labels):
    report = make_report()
    document = open_docx(render_docx(report, labels))
    texts = [p.text for p in document.paragraphs]
    assert ASSISTANT in document.core_properties.title
    subtitle = texts.index(labels["report_subtitle"])
    assert ASSISTANT in texts[subtitle]
    intro = texts.index(label(labels, "intro", commune="Thuan Chau", period_from="01/07/2025",
                              period_to="30/09/2025"))
    assert ASSISTANT in texts[intro]
    assert texts[intro + 1] == labels["basis_note"] and NOT_EVERYONE in texts[intro + 1]
    for key in ("section_indicators", "section_villages", "section_groups"):
        assert ASSISTANT in labels[key] and labels[key] in texts, key
    # The narrative's judgements say whose figures they judge.
    for paragraph in narrative(report, labels):
        if "Officials trained" in paragraph or "Pupils trained" in paragraph:
            assert "dùng trợ lý số" in paragraph
    for ws in open_xlsx(render_xlsx(report, labels)).worksheets:
        assert ASSISTANT in ws["A1"].value and NOT_EVERYONE in ws["A1"].value


def test_a_share_of_the_adult_population_is_headed_as_one(labels):
    villages = open_xlsx(render_xlsx(make_report(), labels))[labels["sheet_villages"]]
    headers = [c.value for c in villages[2]]
    for key in ("col_basic_skills_percent", "col_certified_percent"):
        assert "18 tuổi" in labels[key] and labels[key] in headers
    table = table_with_header(open_docx(render_docx(make_report(), labels)), labels["col_village"],
                              labels["col_registered"])
    under = [c.text for c in table.rows[1].cells]
    assert under.count(labels["sub_percent_of_adults"]) == 2 and "18 tuổi" in labels["sub_percent_of_adults"]


# --- a count of nought reads as a sentence, not "Có 0 người" -----------------------------------------

@pytest.mark.parametrize("report", [zero_report(), some_zero_report(3, 0), some_zero_report(0, 2),
                                    some_zero_report(0, 0)], ids=["nothing", "starts", "completions", "idle"])
def test_no_sentence_counts_a_bare_nought(labels, report):
    text = " ".join([*narrative(report, labels), *suggested_notes(report, labels).values()])
    assert not BARE_ZERO.search(text), BARE_ZERO.search(text).string
    document = open_docx(render_docx(report, labels))
    assert not any(BARE_ZERO.search(p.text) for p in document.paragraphs)


def test_the_nought_sentences_say_what_is_missing(labels):
    text = " ".join(narrative(zero_report(), labels))
    assert label(labels, "narrative_usage_zero", period_to="30/09/2025") in text
    assert labels["narrative_self_reported_zero"] in text and labels["narrative_digital_families_zero"] in text
    assert label(labels, "item_count_zero", label="Officials trained") in text
    assert labels["narrative_courses"].split("{")[0] not in text          # nothing about courses: nobody uses it
    some = " ".join(narrative(some_zero_report(3, 0), labels))
    assert label(labels, "narrative_usage_no_new", period_to="30/09/2025", registered="5") in some
    assert label(labels, "narrative_courses_none_completed", courses_started="3") in some
    assert label(labels, "narrative_core_zero", core_count=3) in some
    assert label(labels, "deeds_sessions", people_in_sessions="4") in some
    assert label(labels, "narrative_courses_none_started", courses_completed="2") in " ".join(
        narrative(some_zero_report(0, 2), labels))
    assert labels["narrative_courses_zero"] in " ".join(narrative(some_zero_report(0, 0), labels))


# --- no table row breaks across pages -----------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def table_rows_xml(data: bytes) -> list[list]:
    """Each table of word/document.xml as its w:tr elements."""
    import zipfile
    from xml.etree import ElementTree
    root = ElementTree.fromstring(zipfile.ZipFile(BytesIO(data)).read("word/document.xml"))
    return [table.findall(f"{W}tr") for table in root.iter(f"{W}tbl")]


def test_every_table_row_stays_on_one_page_and_headers_repeat(labels):
    report = make_report()
    report.villages = report.villages * 10           # a table that runs over a page
    tables = table_rows_xml(render_docx(report, labels))
    assert len(tables) >= 7
    for rows in tables:
        for tr in rows:
            props = tr.find(f"{W}trPr")
            assert props is not None and props.find(f"{W}cantSplit") is not None
            names = [child.tag for child in props]
            if f"{W}tblHeader" in names:             # the schema's order: cantSplit before tblHeader
                assert names.index(f"{W}cantSplit") < names.index(f"{W}tblHeader")
    headed = [rows for rows in tables if rows[0].find(f"{W}trPr/{W}tblHeader") is not None]
    assert len(headed) == len(tables) - 2            # all but the letterhead and the signature
    villages = max(headed, key=len)
    assert [tr.find(f"{W}trPr/{W}tblHeader") is not None for tr in villages[:3]] == [True, True, False]


# --- the self-reported VNeID certification is called so wherever it shows ----------------------------

def test_the_self_reported_certification_is_called_so_in_the_workbook_and_the_document(labels):
    report = make_report()
    villages = open_xlsx(render_xlsx(report, labels))[labels["sheet_villages"]]
    headers = [c.value for c in villages[2]]
    for key in ("col_certified_count", "col_certified_percent", "col_certified_web"):
        assert labels[key] in headers and SELF_REPORTED[0] in labels[key].lower(), key
    for key in ("col_certified_count", "col_certified_percent"):
        assert says_self_reported(labels[key])
    document = open_docx(render_docx(report, labels))
    table = table_with_header(document, labels["col_village"], labels["col_registered"])
    assert labels["head_certified"] in [c.text for c in table.rows[0].cells]
    assert says_self_reported(labels["head_certified"]) and says_self_reported(labels["indicator_self_reported"])


def test_the_narrative_never_counts_self_reports_as_the_communes_certification(labels):
    report = make_report()
    report.indicators[-1].measure = Measure(60, 100, 50)       # "met", were it a checked figure
    paragraphs = narrative(report, labels)
    dec = labels["decimal_separator"]
    judged = [p for p in paragraphs if labels["narrative_met"].split("{items}")[0] in p]
    assert judged and not any("Certified" in p for p in judged)
    sentence = label(labels, "narrative_self_reported", count="60", percent=f"60{dec}0")
    assert sentence in paragraphs and says_self_reported(sentence)
    assert labels["recommend_vneid_check"] in suggested_notes(report, labels)["recommendations"]


# --- the columns are defined once ----------------------------------------------------------------------

def test_a_column_added_to_the_list_shows_in_the_json_the_workbook_and_once_placed_the_document(labels):
    """One list: a column added to VILLAGE_COLUMNS, with its label, is a JSON figure (and in the
    API schema), a workbook column, and a Word column once placed by id."""
    from admin_api.reports import columns, docx as word
    from admin_api.reports.as_json import report_json
    from admin_api.schemas import row_out_model
    extra = columns.Column("phones", "col_phones", lambda row: getattr(row, "phones"), figure="phones")
    with_label = dict(labels, col_phones="Phones")
    report = make_report()
    for n, row in enumerate([*report.villages, *report.groups, report.total]):
        row.phones = 100 + n
    columns.VILLAGE_COLUMNS.append(extra)
    try:
        data = report_json(report, with_label)
        assert data["villages"][0]["phones"] == 100 and data["labels"]["phones"] == "Phones"
        assert row_out_model(data["labels"]).model_validate(data["total"]).phones == 104
        ws = open_xlsx(render_xlsx(report, with_label))[labels["sheet_villages"]]
        assert ws.cell(row_named(ws, "Ban Na Lo"), header_index(ws, with_label, "col_phones")).value == 100
        assert "Phones" not in render_text(render_docx(report, with_label))     # not placed yet
        word.WORD_FAMILIES.append(word.Place("phones", 2.0))
        try:
            table = table_with_header(open_docx(render_docx(report, with_label)), "Phones")
            assert data_row(table, "Ban Na Lo")[-1] == "100"
        finally:
            word.WORD_FAMILIES.pop()
    finally:
        columns.VILLAGE_COLUMNS.pop()
    assert "phones" not in report_json(report, labels)["labels"]


def test_the_json_rows_hold_the_columns_figures_labelled_as_the_files_are(labels):
    from admin_api.reports.as_json import report_json
    from admin_api.reports.columns import GROUP_COLUMNS, VILLAGE_COLUMNS
    from admin_api.schemas import RowOut
    data = report_json(make_report(), labels)
    figures = {c.figure for c in (*VILLAGE_COLUMNS, *GROUP_COLUMNS) if c.figure}
    assert set(data["labels"]) == figures and set(RowOut.model_fields) == figures | {"id", "name"}
    assert set(data["villages"][0]) == figures | {"id", "name"}
    assert data["labels"]["registered"] == labels["col_registered"]
    assert data["labels"]["certified"] == labels["head_certified"]
    assert data["villages"][0]["basic_skills"] == {"count": 14, "base": 200, "percent": 7.0, "target_percent": 80,
                                                   "met": False}
    assert [i["self_reported"] for i in data["indicators"]] == [False, False, False, True]


def render_text(data: bytes) -> str:
    document = open_docx(data)
    return "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for row in t.rows for c in row.cells])
