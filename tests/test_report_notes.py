"""The report's written sections (Đánh giá chung; Khó khăn, vướng mắc; Phương hướng; Kiến nghị):
kept per period and village on SQLite and PostgreSQL, printed after the tables and before the
signature, and, until written, started from what the figures say and nothing more."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from docx import Document
from docx.oxml.ns import qn

from admin_api.reports.docx import render_docx
from admin_api.reports.model import Measure
from admin_api.reports.narrative import narrative
from admin_api.reports.notes import (MAX_TEXT, SECTIONS, load_notes, paragraphs, save_notes, suggested_notes)
from admin_api.reports.wording import label
from bot.models import ReportNote, Resident
from tests.test_report_integrity import api  # noqa: F401  (the admin API over HTTP, as a fixture)
from tests.test_report_render import make_report

LABELS = yaml.safe_load((Path(__file__).resolve().parents[1] / "knowledge/vi/report.yaml")
                        .read_text(encoding="utf-8"))["labels"]
VILLAGE = "kv-tong-lanh"
H1 = (date(2026, 1, 1), date(2026, 6, 7))          # the first half-year's report
H2 = (date(2026, 6, 8), date(2026, 12, 7))


def headings() -> list[str]:
    return [LABELS[f"section_{section}"] for section in SECTIONS]


def body(data: bytes) -> list[str]:
    """The document's body in order: each paragraph's text (but blank lines), and "<table: first
    cell>" for a table."""
    document = Document(io.BytesIO(data))
    out = []
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:p"):
            out.append("".join(t.text or "" for t in element.iter(qn("w:t"))))
            if not out[-1]:
                out.pop()
        elif element.tag == qn("w:tbl"):
            out.append("<table: " + "".join(t.text or "" for t in next(element.iter(qn("w:tc"))).iter(qn("w:t")))
                       + ">")
    return out


# --- kept in the database -----------------------------------------------------------------------------

def test_notes_are_read_back_for_their_period_and_village_only(sessions):
    with sessions() as session:
        assert load_notes(session, *H1, None) is None
        saved = save_notes(session, *H1, None, {"assessment": "  Tốt.\r\n\r\nCòn chậm.  ", "directions": ""},
                           "can-bo-xa")
        save_notes(session, *H1, VILLAGE, {"difficulties": "Sóng yếu."}, "truong-ban")
        session.commit()
    assert saved == {"assessment": "Tốt.\n\nCòn chậm.", "directions": ""}
    with sessions() as session:
        assert load_notes(session, *H1, None) == saved
        assert load_notes(session, *H1, "") == saved                      # "" is the whole commune too
        assert load_notes(session, *H1, VILLAGE) == {"difficulties": "Sóng yếu."}
        assert load_notes(session, *H2, None) is None
        assert load_notes(session, H1[0], H2[1], None) is None
        note = session.get(ReportNote, (*H1, ""))
        assert note.updated_by == "can-bo-xa" and note.updated_at is not None


def test_saving_again_keeps_the_sections_not_given(sessions):
    with sessions() as session:
        save_notes(session, *H1, None, {"assessment": "A", "difficulties": "B"}, "mot")
        session.commit()
    with sessions() as session:
        assert save_notes(session, *H1, None, {"difficulties": "C", "recommendations": "D"}, "hai") == {
            "assessment": "A", "difficulties": "C", "recommendations": "D"}
        session.commit()
    with sessions() as session:
        assert load_notes(session, *H1, None) == {"assessment": "A", "difficulties": "C", "recommendations": "D"}
        assert session.get(ReportNote, (*H1, "")).updated_by == "hai"


def test_save_notes_leaves_the_commit_to_the_caller(sessions):
    with sessions() as writer, sessions() as reader:
        save_notes(writer, *H1, None, {"assessment": "A"}, "mot")
        writer.flush()
        assert load_notes(reader, *H1, None) is None
        writer.commit()
        assert load_notes(reader, *H1, None) == {"assessment": "A"}


@pytest.mark.parametrize("sections, actor, period", [
    ({"summary": "x"}, "mot", H1),                  # not a section
    ({"assessment": 3}, "mot", H1),                  # not text
    ({"assessment": "x"}, "  ", H1),                 # nobody
    ({"assessment": "x"}, "mot", (H1[1], H1[0])),    # a period backwards
])
def test_save_notes_refuses_what_is_not_a_note(sessions, sections, actor, period):
    with sessions() as session:
        with pytest.raises(ValueError):
            save_notes(session, *period, None, sections, actor)
        assert not session.new


def test_a_long_text_is_capped_and_odd_characters_are_kept_safe(sessions):
    with sessions() as session:
        saved = save_notes(session, *H1, None, {"assessment": "x" * (MAX_TEXT + 500),
                                                "difficulties": "a\x00b"}, "m" * 200)
        session.commit()
    assert len(saved["assessment"]) == MAX_TEXT and saved["difficulties"] == "ab"
    with sessions() as session:
        assert load_notes(session, *H1, None)["assessment"] == "x" * MAX_TEXT
        assert len(session.get(ReportNote, (*H1, "")).updated_by) == 80


# --- what the figures suggest ---------------------------------------------------------------------------

def test_the_suggestions_are_the_figures_and_nothing_more():
    report = make_report()
    notes = suggested_notes(report, LABELS)
    assert set(notes) == set(SECTIONS)
    assert notes["assessment"].split("\n") == narrative(report, LABELS)
    below = label(LABELS, "item_village_below", name="Ban Na Lo", percent="7,0", target=80)
    assert notes["difficulties"].split("\n") == [
        label(LABELS, "difficulty_below_target", year=2025, villages=below),
        label(LABELS, "difficulty_no_population", villages="Tieu khu 1"),
        label(LABELS, "difficulty_no_households", villages="Tieu khu 1")]
    assert label(LABELS, "direction_below_target", villages="Ban Na Lo") in notes["directions"]
    assert notes["recommendations"] == LABELS["recommend_vneid_check"]


def test_a_report_with_nothing_to_point_at_suggests_nothing_beyond_its_figures():
    report = make_report()
    report.villages = report.villages[:1]
    report.villages[0].basic_skills = Measure(180, 200, 80)            # above its target
    report.indicators = [i for i in report.indicators if not i.self_reported]
    notes = suggested_notes(report, LABELS)
    assert notes["assessment"] and notes["difficulties"] == notes["directions"] == notes["recommendations"] == ""


# --- printed in the Word document -----------------------------------------------------------------------

def test_the_written_sections_come_after_the_tables_and_before_the_signature():
    notes = {"assessment": "Phong trào được bà con hưởng ứng.\n\n  Các thôn vùng cao còn chậm.  \n",
             "difficulties": "Sóng điện thoại yếu ở bản Pá Pao.", "directions": ""}   # recommendations: not written
    text = body(render_docx(make_report(), LABELS, notes=notes))
    at = [text.index(heading) for heading in headings()]
    assert at == sorted(at)
    assert text.index(LABELS["section_ambassadors"]) < at[0]
    assert text[-1].startswith("<table: " + LABELS["recipients_title"])      # the signature closes it
    assert not any(item.startswith("<table") for item in text[at[0]:-1])
    assert text[at[0] + 1: at[1]] == ["Phong trào được bà con hưởng ứng.", "Các thôn vùng cao còn chậm."]
    assert text[at[1] + 1: at[2]] == ["Sóng điện thoại yếu ở bản Pá Pao."]
    assert text[at[2] + 1: at[3]] == [LABELS["notes_blank"]]                # emptied: a line to write on
    assert text[at[3] + 1: -1] == paragraphs(suggested_notes(make_report(), LABELS)["recommendations"])
    assert not any(p in text for p in narrative(make_report(), LABELS))     # the official's words replace them


def test_without_written_sections_the_document_shows_the_suggestions():
    report = make_report()
    text = body(render_docx(report, LABELS))
    at = [text.index(heading) for heading in headings()] + [len(text) - 1]
    suggested = suggested_notes(report, LABELS)
    for i, section in enumerate(SECTIONS):
        assert text[at[i] + 1: at[i + 1]] == (paragraphs(suggested[section]) or [LABELS["notes_blank"]]), section


# --- through the API -------------------------------------------------------------------------------------

def document_text(api, query: str) -> list[str]:
    response = api.get(f"/api/v1/reports/progress?{query}&format=docx")
    assert response.status_code == 200
    return body(response.content)


def test_the_api_prints_the_sections_written_for_the_period_and_village(api, sessions):
    with sessions() as session:
        session.add(Resident(platform="telegram", external_id="1", language="vi", village_id=VILLAGE,
                             consent_at=datetime(2026, 2, 1, tzinfo=timezone.utc), consent_version="1",
                             created_at=datetime(2026, 2, 1, tzinfo=timezone.utc)))
        save_notes(session, *H1, None, {"assessment": "Xã đánh giá: tốt."}, "can-bo-xa")
        save_notes(session, *H1, VILLAGE, {"assessment": "Bản đánh giá: khá."}, "truong-ban")
        session.commit()
    period = "from=2026-01-01&to=2026-06-07"
    commune = document_text(api, period)
    assert "Xã đánh giá: tốt." in commune and "Bản đánh giá: khá." not in commune
    assert LABELS["section_difficulties"] in commune
    village = document_text(api, f"{period}&village={VILLAGE}")
    assert "Bản đánh giá: khá." in village and "Xã đánh giá: tốt." not in village
    other = document_text(api, "from=2026-01-01&to=2026-06-30")        # another period: the figures' words
    assert "Xã đánh giá: tốt." not in other
    usage = label(LABELS, "narrative_usage", period_to="30/06/2026", registered="1", new_in_period="1")
    assert any(p.startswith(usage) for p in other)
