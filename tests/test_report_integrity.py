"""The report cannot be inflated into nonsense, over real HTTP, on SQLite and PostgreSQL:

- a share whose count exceeds its base (250 certified in a village entered as 100 adults) shows
  100% and is flagged, in the JSON, the workbook (openpyxl) and the Word report (python-docx);
- web-chat residents' "I am certified on VNeID" is counted apart and never toward the target;
  their completed core courses count, and how many there are is shown beside the figure;
- the certified figure is called self-reported wherever it shows, and never the commune's result;
- no sentence writes a count of nought as "Có 0 người", with an empty database or with data.
"""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from docx import Document
from openpyxl import load_workbook

from admin_api.reports import progress
from admin_api.reports.columns import GROUP_COLUMNS, INDICATOR_COLUMNS, VILLAGE_COLUMNS
from admin_api.reports.docx import (WORD_AMBASSADORS, WORD_FAMILIES, WORD_GROUPS, WORD_INDICATORS, WORD_VILLAGES,
                                    WORD_WEB)
from admin_api.reports.xlsx import label
from bot.channels.web import chat as webchat
from bot.models import Completion, Progress, Resident
from bot.web import create_app
from tests.http_helpers import serving

ADMIN = "admin-token-for-the-report-integrity-tests"
VILLAGE = "kv-tong-lanh"
VILLAGE_NAME = "Tông Lạnh (cũ)"
OTHER_VILLAGES = ["kv-thi-tran-thuan-chau", "kv-phong-ly", "kv-thom-mon", "kv-chieng-pac"]
CORE = ["vneid", "an-toan-mang", "thanh-toan-so"]
PERIOD = "from=2026-01-01&to=2026-06-07"
JOINED = datetime(2026, 2, 1, tzinfo=timezone.utc)
LABELS = yaml.safe_load((Path(__file__).resolve().parents[1] / "knowledge/vi/report.yaml")
                        .read_text(encoding="utf-8"))["labels"]


@pytest.fixture
def api(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers.update({"Authorization": f"Bearer {ADMIN}"})
        yield client


def add_adult(sessions, n: int, platform: str, certified: bool = False, core: bool = False) -> None:
    """An adult of the village who joined on 1/2/2026 and may have reported being certified a
    day later, or passed the core quizzes two days later."""
    with sessions() as session:
        resident = Resident(platform=platform, external_id=f"{platform}-{n}", language="vi", consent_at=JOINED,
                            consent_version="1", village_id=VILLAGE, age_band="36-59", created_at=JOINED,
                            certified_at=JOINED + timedelta(days=1) if certified else None)
        session.add(resident)
        session.flush()
        for course in CORE if core else []:
            session.add(Progress(resident_id=resident.id, course_id=course, step_index=0, started_at=JOINED))
            session.add(Completion(resident_id=resident.id, course_id=course, best_percent=100,
                                   completed_at=JOINED + timedelta(days=2)))
        session.commit()


def report_files(api) -> tuple[dict, list, object]:
    """The same report as JSON, as the village sheet's rows by name, and as a Word document."""
    report = api.get(f"/api/v1/reports/progress?{PERIOD}")
    xlsx = api.get(f"/api/v1/reports/progress?{PERIOD}&format=xlsx")
    docx = api.get(f"/api/v1/reports/progress?{PERIOD}&format=docx")
    assert report.status_code == xlsx.status_code == docx.status_code == 200
    return report.json(), load_workbook(io.BytesIO(xlsx.content)), Document(io.BytesIO(docx.content))


def sheet_row(book, sheet_key: str, name: str) -> dict:
    """The row called ``name`` of a sheet, as {header: cell}."""
    sheet = book[LABELS[sheet_key]]
    headers = [c.value for c in sheet[2]]
    [row] = [r for r in sheet.iter_rows(min_row=3) if r[0].value == name]
    return dict(zip(headers, row))


def word_rows(document, name: str) -> list[list[str]]:
    """Every Word table row whose name column is ``name``."""
    return [[c.text for c in row.cells] for t in document.tables for row in t.rows
            if len(row.cells) > 1 and row.cells[1].text == name]


def header(key: str, **values) -> str:
    return label(LABELS, key, **values)


# --- shares above 100% ---------------------------------------------------------------------------------

def test_a_share_above_100_percent_is_capped_and_flagged_in_json_xlsx_and_docx(api, sessions):
    """8 certified adults in a village entered as 2 adults: 400% before, now 100% and a note."""
    api.patch(f"/api/v1/villages/{VILLAGE}", json={"adult_population": 2})
    for village in OTHER_VILLAGES:                   # the commune's base: 6 adults, under the 8 counted
        api.patch(f"/api/v1/villages/{village}", json={"adult_population": 1})
    for n in range(8):
        add_adult(sessions, n, "telegram", certified=True, core=True)
    report, book, document = report_files(api)

    village = next(v for v in report["villages"] if v["id"] == VILLAGE)
    target = village["certified"]["target_percent"]
    assert village["certified"] == {"count": 8, "base": 2, "percent": 100.0, "target_percent": target,
                                    "met": None, "over_base": True}
    assert village["basic_skills"]["percent"] == 100.0 and village["basic_skills"]["over_base"] is True
    fine = next(v for v in report["villages"] if v["id"] == OTHER_VILLAGES[0])["certified"]
    assert fine["percent"] == 0.0 and fine["met"] is False and "over_base" not in fine
    certified = next(i for i in report["indicators"] if i["id"] == "xac-nhan-vneid")["measure"]
    assert (certified["count"], certified["base"], certified["percent"]) == (8, 6, 100.0)
    assert certified["over_base"] is True and certified["met"] is None

    note = header("percent_over_adults", count="8", base="2")
    assert note.startswith("100%") and "8/2" in note
    row = sheet_row(book, "sheet_villages", VILLAGE_NAME)
    for key in ("col_certified_percent", "col_basic_skills_percent"):
        assert row[LABELS[key]].value == note
        assert row[LABELS[key]].fill.fgColor.rgb.endswith("FCE4D6")      # marked for the official to check
    assert sheet_row(book, "sheet_villages", LABELS["total_row"])[LABELS["col_certified_percent"]].value \
        == header("percent_over_adults", count="8", base="6")
    indicator = sheet_row(book, "sheet_indicators", next(i["label"] for i in report["indicators"]
                                                         if i["id"] == "xac-nhan-vneid"))
    assert indicator[LABELS["col_percent"]].value == header("percent_over_adults", count="8", base="6")
    assert indicator[LABELS["col_met"]].value == LABELS["met_unknown"]

    [word_village, *_] = word_rows(document, VILLAGE_NAME)
    assert word_village.count(note) == 2                             # basic skills and certified
    text = "\n".join(p.text for p in document.paragraphs)
    assert header("difficulty_over_base", villages=VILLAGE_NAME) in text
    assert "400" not in " ".join(" ".join(r) for r in word_rows(document, VILLAGE_NAME))


# --- the web chat's self-reports ------------------------------------------------------------------------

def test_web_self_reports_are_apart_from_the_certified_figure_in_json_xlsx_and_docx(api, sessions):
    assert progress.WEB_PLATFORM == webchat.PLATFORM
    api.patch(f"/api/v1/villages/{VILLAGE}", json={"adult_population": 10})
    add_adult(sessions, 1, "telegram", certified=True, core=True)
    add_adult(sessions, 2, "telegram", certified=True)
    add_adult(sessions, 3, "web", certified=True, core=True)
    add_adult(sessions, 4, "web", certified=True)
    add_adult(sessions, 5, "web", certified=True)
    report, book, document = report_files(api)

    village = next(v for v in report["villages"] if v["id"] == VILLAGE)
    assert (village["certified"]["count"], village["certified"]["percent"]) == (2, 20.0)   # Telegram only
    assert village["certified_web"] == 3
    assert (village["basic_skills"]["count"], village["basic_skills_web"]) == (2, 1)    # web learners count
    assert (report["total"]["certified"]["count"], report["total"]["certified_web"]) == (2, 3)
    assert next(i for i in report["indicators"] if i["id"] == "xac-nhan-vneid")["measure"]["count"] == 2
    labels = report["labels"]
    assert labels["certified"] == LABELS["head_certified"] and "Telegram" in labels["certified"]
    assert labels["certified_web"] == LABELS["col_certified_web"]
    assert "trang web" in labels["certified_web"] and "không tính vào chỉ tiêu" in labels["certified_web"]

    row = sheet_row(book, "sheet_villages", VILLAGE_NAME)
    assert row[LABELS["col_certified_count"]].value == 2
    assert row[LABELS["col_certified_percent"]].value == 20.0
    assert row[LABELS["col_certified_web"]].value == 3
    assert row[LABELS["col_basic_skills_count"]].value == 2 and row[LABELS["col_basic_skills_web"]].value == 1

    web_table = next(t for t in document.tables if LABELS["col_certified_web"] in {c.text for c in t.rows[0].cells})
    [web_row] = [[c.text for c in r.cells] for r in web_table.rows if r.cells[1].text == VILLAGE_NAME]
    assert web_row[2:] == ["1", "3"]
    assert any(LABELS["head_certified"] in c.text for t in document.tables for c in t.rows[0].cells)
    text = "\n".join(p.text for p in document.paragraphs)
    assert header("narrative_web", basic_skills_web="1", certified_web="3") in text
    assert LABELS["subsection_web"] in text


def test_the_word_tables_only_place_the_shared_columns():
    """One list of columns: the Word tables pick from it by id and never define their own."""
    for columns, places in ((INDICATOR_COLUMNS, WORD_INDICATORS), (VILLAGE_COLUMNS, WORD_VILLAGES),
                            (VILLAGE_COLUMNS, WORD_WEB), (VILLAGE_COLUMNS, WORD_FAMILIES),
                            (GROUP_COLUMNS, WORD_GROUPS)):
        assert {p.column for p in places} <= {c.id for c in columns}
    assert [p.column for p in WORD_AMBASSADORS] == ["rank", "first_name", "village", "helped", "completions",
                                                    "people_in_sessions"]
    used = {c.header for c in (*INDICATOR_COLUMNS, *VILLAGE_COLUMNS, *GROUP_COLUMNS)}
    assert used <= set(LABELS), sorted(used - set(LABELS))


# --- the self-reported certification ---------------------------------------------------------------------

SELF_REPORTED = ("tự báo", "chưa đối chiếu")


def says_self_reported(text: str) -> bool:
    return all(words in text.lower() for words in SELF_REPORTED)


def test_the_certified_figure_is_called_self_reported_in_json_xlsx_and_docx(api, sessions):
    api.patch(f"/api/v1/villages/{VILLAGE}", json={"adult_population": 2})
    for village in OTHER_VILLAGES:
        api.patch(f"/api/v1/villages/{village}", json={"adult_population": 1})
    add_adult(sessions, 1, "telegram", certified=True)           # 1 of 6 adults: 16.7%, target 60%
    report, book, document = report_files(api)

    assert says_self_reported(report["labels"]["certified"])
    [indicator] = [i for i in report["indicators"] if i["id"] == "xac-nhan-vneid"]
    assert indicator["self_reported"] is True and says_self_reported(indicator["label"])
    assert not any(i["self_reported"] for i in report["indicators"] if i["id"] != "xac-nhan-vneid")

    assert sheet_row(book, "sheet_indicators", indicator["label"])[LABELS["col_count"]].value == 1
    village_headers = [c.value for c in book[LABELS["sheet_villages"]][2]]
    assert all(says_self_reported(h) for h in village_headers if "VNeID" in h and "chỉ tiêu (%)" not in h
               and "trang web" not in h)
    assert [row[1] for row in word_rows(document, indicator["label"])] == [indicator["label"]]
    assert any(says_self_reported(c.text) for t in document.tables for c in t.rows[0].cells)

    text = "\n".join(p.text for p in document.paragraphs)
    assert header("narrative_self_reported", count="1", percent="16,7") in text
    judged = [p.text for p in document.paragraphs
              if p.text.startswith((LABELS["narrative_met"].split("{")[0], LABELS["narrative_not_met"].split("{")[0]))]
    assert judged and not any(indicator["label"] in p for p in judged)


# --- a count of nought --------------------------------------------------------------------------------

# A count written as a bare nought ("có 0 người", "0/60 hộ"); not 0,0% nor a date or a larger number.
BARE_ZERO = re.compile(r"(?<![\d.,])0(?![\d.,%])")


def document_paragraphs(api, query: str = PERIOD) -> list[str]:
    response = api.get(f"/api/v1/reports/progress?{query}&format=docx")
    assert response.status_code == 200
    return [p.text for p in Document(io.BytesIO(response.content)).paragraphs if p.text]


def test_an_empty_database_writes_no_bare_nought(api):
    paragraphs = document_paragraphs(api)
    assert [p for p in paragraphs if BARE_ZERO.search(p)] == []
    assert header("narrative_usage_zero", period_to="07/06/2026") in paragraphs


def test_a_database_with_data_writes_no_bare_nought(api, sessions):
    """Residents who joined before the period, one of whom learned in it; nobody certified, no
    household, no ambassador: noughts beside figures that are not."""
    add_adult(sessions, 1, "telegram", core=True)
    add_adult(sessions, 2, "telegram")
    paragraphs = document_paragraphs(api, "from=2026-03-01&to=2026-06-07")
    assert [p for p in paragraphs if BARE_ZERO.search(p)] == []
    text = "\n".join(paragraphs)
    assert header("narrative_usage_no_new", period_to="07/06/2026", registered="2") in text
    assert header("narrative_courses_zero") in text         # the courses were done in February
    assert header("narrative_core", core_completed="1", core_count=3) in text
    assert LABELS["narrative_self_reported_zero"] in text
