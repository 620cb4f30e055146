"""Content checks of issue 3: FAQ shape, links, sources, spelling, near-duplicates, glossary,
Telegram limits, SOURCES.md, and the totals the commune was promised."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.config import REPO_ROOT
from bot.content.schema import ANSWER_MAX_CHARS
from bot.content.sources_md import render_sources
from bot.models import Resident
from bot.replies import CALLBACK_DATA_MAX
from tests.core_helpers import TELEGRAM_TEXT_MAX, Chat, data_of
from tests.test_content import broken, located  # noqa: F401  (fixture)

FAQ_FILE = "vi/faq/zz-test.yaml"
GOOD_FAQ = """entries:
  - id: zz-cai-app
    question: "Cài ứng dụng VNeID ở đâu?"
    phrasings: ["cai vneid o dau", "tai app vn eid cho nao", "cho e hoi cai vneid"]
    answer: "Bạn cài ứng dụng VNeID từ CH Play hoặc App Store."
    see: vneid/cai-app-that
    sources: [S38]
  - id: zz-quen-mat-khau
    question: "Quên mật khẩu VNeID thì làm gì?"
    phrasings: ["quen mk vneid", "quen mat khau vneid lam j", "mat khau vneid bi quen"]
    answer: "Bạn bấm \\"Quên mật khẩu\\" trong ứng dụng VNeID rồi làm theo từng bước."
    see: vneid/quen-mat-khau
    sources: [S8]
"""


# ---- the shipped content ------------------------------------------------------------------------

def test_content_has_seven_courses_enough_quiz_questions_and_250_faq_entries(knowledge):
    pack = knowledge.pack("vi")
    assert len(pack.courses) == 7
    assert sum(len(c.quiz.questions) for c in pack.courses.values()) >= 42
    assert len(pack.faq) >= 250


def test_cli_reports_the_totals():
    done = subprocess.run([sys.executable, "-m", "bot.cli", "content", "check"], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    [totals] = [line for line in done.stdout.splitlines() if line.startswith("ok  vi:")]
    courses, questions, faq = (int(n) for n in re.findall(r"(\d+) (?:courses|quiz questions|FAQ)", totals))
    assert courses == 7 and questions >= 42 and faq >= 250
    assert "out of date" not in done.stdout


def test_every_faq_entry_is_complete_and_links_to_a_step(knowledge):
    pack = knowledge.pack("vi")
    ids = [e.id for e in pack.faq]
    assert len(ids) == len(set(ids))
    for entry in pack.faq:
        assert len(entry.phrasings) >= 3, entry.id
        assert len(set(entry.phrasings) | {entry.question}) == len(entry.phrasings) + 1, entry.id
        assert len(entry.answer) <= ANSWER_MAX_CHARS, entry.id
        course = pack.courses[entry.course_id]
        assert course.step_number(entry.step_id) is not None, entry.see
        # An entry with no sources gives general advice only (shown as "—" in SOURCES.md).
        assert set(entry.sources) <= set(knowledge.sources), entry.id


def test_faq_phrasings_are_typed_the_way_residents_type(knowledge):
    """Each entry has at least one phrasing with no diacritics at all."""
    plain = re.compile(r"^[\x00-\x7f]*$")
    for entry in knowledge.pack("vi").faq:
        assert any(plain.match(p) for p in entry.phrasings), entry.id


def test_sources_page_is_up_to_date(knowledge):
    expected = render_sources(knowledge)
    actual = (REPO_ROOT / "knowledge" / "SOURCES.md").read_text(encoding="utf-8")
    assert actual == expected, "run `hocvuso content sources` and commit knowledge/SOURCES.md"


def test_every_course_step_and_quiz_reply_fits_telegram(assistant, knowledge):
    """Render every step and every quiz question through the core: text and button limits."""
    for course in knowledge.pack("vi").ordered_courses:
        me = Chat(assistant, f"limits-{course.id}")
        me.consent_and_skip_profile()
        me.walk_course(course)  # Chat checks 4096 characters and 64-byte button data on every reply
        me.take_quiz(course, right=False)
        assert all(len(b.data.encode()) <= CALLBACK_DATA_MAX for r in me.log for row in r.buttons for b in row)
        assert max(len(r.text) for r in me.log) <= TELEGRAM_TEXT_MAX


def test_glossary_explains_each_term_once_per_course_where_it_first_appears(assistant, knowledge):
    pack = knowledge.pack("vi")
    for course in pack.ordered_courses:
        me = Chat(assistant, f"glossary-{course.id}", first_name=None)
        me.decline()
        texts = [replies[0].text for replies in me.walk_course(course)]
        for term in pack.glossary.terms:
            line = f"ℹ️ {term.explain}"
            pattern = re.compile(term.pattern)
            mentions = [i for i, step in enumerate(course.steps)
                        if pattern.search(f"{course.intro if i == 0 else ''}\n{step.title}\n{step.text}")]
            shown = [i for i, text in enumerate(texts) if line in text]
            assert shown == mentions[:1], (course.id, term.term, shown, mentions)


# ---- broken content is reported by file and line -----------------------------------------------

def test_faq_link_to_a_missing_step(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace("vneid/quen-mat-khau", "vneid/khong-co"), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "vneid/khong-co"), "does not lead")


def test_faq_with_two_phrasings(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace(', "cho e hoi cai vneid"', ""), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "tai app vn eid"), "phrasings")


def test_faq_answer_too_long(broken):  # noqa: F811
    long_answer = "Dài quá. " + "Bạn hỏi Công an xã nhé. " * 30
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace(
        "Bạn cài ứng dụng VNeID từ CH Play hoặc App Store.", long_answer), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "Dài quá."), "answer", "600")


def test_duplicate_faq_id_across_files(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ, "utf-8")
    other = "vi/faq/zz-other.yaml"
    (broken.path / other).write_text(GOOD_FAQ.replace("zz-quen-mat-khau", "zz-khac").replace(
        "Quên mật khẩu VNeID thì làm gì?", "Có phải trả tiền để dùng VNeID không?"), "utf-8")
    problems = broken.problems()  # files are read in name order: zz-other, then zz-test
    located(problems, FAQ_FILE, broken.line_of(FAQ_FILE, "id: zz-cai-app"), "duplicate FAQ id")


def test_near_duplicate_faq_questions(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace(
        "Quên mật khẩu VNeID thì làm gì?", "Cài ứng dụng VNeID ở đâu ạ?"), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "Cài ứng dụng VNeID ở đâu ạ?"),
            "nearly the same", "zz-cai-app")


def test_unknown_source_id(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace("sources: [S8]", "sources: [S999]"), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "[S999]"), "unknown source id 'S999'")


@pytest.mark.parametrize("wrong", ["Vneid", "VNEID", "vn-eid"])
def test_key_terms_are_spelled_one_way(broken, wrong):  # noqa: F811
    line = broken.edit("vi/courses/vneid.yaml", 'Chỉ cài ứng dụng thật, tên là "VNeID".',
                       f'Chỉ cài ứng dụng thật, tên là "{wrong}".')
    located(broken.problems(), "vi/courses/vneid.yaml", line, "write 'VNeID'", repr(wrong))


def test_site_names_are_spelled_one_way(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ.replace(
        "từ CH Play hoặc App Store.", "từ CH Play. Nộp hồ sơ ở dichvucong.gov."), "utf-8")
    located(broken.problems(), FAQ_FILE, broken.line_of(FAQ_FILE, "dichvucong.gov."),
            "write 'dichvucong.gov.vn'")


def test_misspellings_in_phrasings_are_allowed(broken):  # noqa: F811
    (broken.path / FAQ_FILE).write_text(GOOD_FAQ, "utf-8")
    from bot.content import load_knowledge

    pack = load_knowledge(broken.path).pack("vi")
    assert "tai app vn eid cho nao" in [p for e in pack.faq for p in e.phrasings]


# ---- /ngonngu ------------------------------------------------------------------------------------

def test_language_switch_for_a_consenting_resident(assistant, sessions):
    me = Chat(assistant, "lang-1")
    me.consent_and_skip_profile()
    [choice] = me.cmd("ngonngu")
    assert "Chọn ngôn ngữ" in choice.text
    assert {"l:vi", "l:en"} <= set(data_of([choice]))
    [menu] = me.tap("l:en")
    assert menu.text.startswith("Language changed")
    assert "❓ Help" in [b.label for row in menu.buttons for b in row]
    with sessions() as session:
        assert session.query(Resident).filter_by(external_id="lang-1").one().language == "en"
    me.cmd("ngonngu")
    [menu] = me.tap("l:vi")
    assert menu.text.startswith("Đã đổi ngôn ngữ")


def test_language_switch_without_consent_stores_nothing(assistant, sessions):
    me = Chat(assistant, "lang-2", first_name=None)
    me.decline()
    me.cmd("ngonngu")
    [reply] = me.tap("l:en")
    assert "/start" in reply.text
    with sessions() as session:
        assert session.query(Resident).count() == 0


def test_unknown_language_button(assistant):
    me = Chat(assistant, "lang-3")
    [reply] = me.press("l:xx")
    assert "cũ rồi" in reply.text


# ---- audiences ------------------------------------------------------------------------------------

@pytest.mark.parametrize("group", ["hoc-sinh", "can-bo", "nguoi-lao-dong", "tieu-thuong-nong-dan"])
def test_menu_offers_the_group_s_courses_first(assistant, knowledge, group):
    pack = knowledge.pack("vi")
    audience = next(g.audience for g in pack.profile.groups if g.id == group)
    me = Chat(assistant, f"aud-{group}")
    me.cmd("start")
    me.tap("c:y")
    me.tap("ps:v")
    [menu] = me.tap(f"g:{group}")  # the age question
    [menu] = me.tap("ps:a")
    shown = [d.split(":")[1] for d in data_of([menu]) if d.startswith("o:")]
    assert sorted(shown) == sorted(pack.courses)
    flags = [audience in pack.courses[c].audiences for c in shown]
    assert flags == sorted(flags, reverse=True), (group, shown)  # all of theirs, then the rest
    assert any(flags)
