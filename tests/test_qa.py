"""Free-text questions: normalization, retrieval replies, the honest fallback, smalltalk,
the log of unanswered questions (CLI and admin API), and the evaluation targets."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from bot.config import REPO_ROOT
from bot.models import UnansweredQuestion
from bot.qa import Normalizer, QaIndex
from bot.qa.evaluate import NO_ENTRY, SETS, evaluate, load_devset
from tests.core_helpers import Chat, data_of
from tests.test_webchat import ADMIN_TOKEN, WebResident, server  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def index():
    from bot.content import load_knowledge

    return QaIndex(load_knowledge(REPO_ROOT / "knowledge").pack("vi"))


# ---- normalization ---------------------------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ("Đăng ký VNeID", ["dang", "ky", "vneid"]),
    ("đk tk vneid ntn", ["dang", "ky", "tai", "khoan", "vneid", "nhu", "the", "nao"]),
    ("ko nhận dc OTP???", ["khong", "nhan", "duoc", "otp"]),
    ("sao vayyyy 😭😭", ["sao", "vay"]),
    ("quen mk roiii", ["quen", "mat", "khau", "roi"]),
    ("sdt cccd", ["so", "dien", "thoai", "can", "cuoc"]),
    ("  Chuyển   khoản!!! ", ["chuyen", "khoan"]),
])
def test_normalization(index, typed, expected):
    assert index.normalizer.tokens(typed) == expected


def test_shorthand_comes_from_knowledge(index):
    assert index.normalizer.shorthand["ko"] == ["khong"]
    custom = Normalizer({"xyz": "tai khoan"}, frozenset())
    assert custom.tokens("xyz") == ["tai", "khoan"]


def test_numbers_are_masked_in_the_log_form(index):
    assert index.normalizer.for_log("sdt 0912345678 cccd 001234") == "so dien thoai # can cuoc #"


# ---- retrieval -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["quên mật khẩu VNeID", "quen mk vneid", "QUEN MAT KHAU VNEID!!!"])
def test_the_same_question_typed_three_ways(index, typed):
    answer = index.answer(typed)
    assert answer is not None and answer.target.key == index.answer("quên mật khẩu VNeID").target.key


@pytest.mark.parametrize("ending", ["ạ", "a", "nhé", "vậy", "nhỉ", "với ạ", "ad ơi", "giúp em với"])
def test_polite_endings_are_noise(index, ending):
    """Issue 13: 'quen mat khau vneid ạ' got "not understood"; one accented particle switched
    the whole question to accent-exact matching."""
    answer = index.answer(f"quen mat khau vneid {ending}")
    assert answer is not None and answer.target.key == "vneid-quen-mat-khau"


@pytest.mark.parametrize("typed, expected", [
    ("quên mat khau vneid", "vneid-quen-mat-khau"),                 # one word with dấu
    ("không đựoc đăng nhập vneid", "vneid-khong-dang-nhap-duoc"),   # a typo inside the dấu
    ("otp la gi", "tt-otp-la-gi"),
    ("toi bi lua roi", "at-da-chuyen-tien-lua"),
    ("bị lừa đảo qua điện thoại", "vneid-bao-lua-dao"),
])
def test_short_and_mixed_questions_from_the_issue(index, typed, expected):
    answer = index.answer(typed)
    assert answer is not None and expected in [answer.target.key, *(c.key for c in answer.choices)]


def test_the_question_at_the_end_of_a_story_counts_more(index):
    """The story's words count half: the clause that asks decides between two entries that
    both share words with the whole message."""
    terms, _typed, asked_words, _letters = index.read(
        "hôm qua đi chợ phiên ở bản, gặp nhiều người quen, nói chuyện về lúa ngô, "
        "trâu bò và mưa nắng cả buổi sáng. giờ cho hỏi quên mật khẩu vneid thì làm sao")
    assert terms["vneid"] == 1.0 and terms["lua"] == index.settings.story_weight
    assert "lua" not in asked_words and "vneid" in asked_words


def test_two_entries_that_say_the_same_make_the_bot_ask(index):
    """An FAQ with two entries that match equally: the bot asks which one was meant."""
    from dataclasses import replace

    from bot.content import load_knowledge

    pack = load_knowledge(REPO_ROOT / "knowledge").pack("vi")
    original = index.faq["vneid-quen-mat-khau"]
    elsewhere = next(e.see for e in pack.faq if e.see != original.see)   # other help, not the same step
    twin = original.model_copy(update={"id": "vneid-quen-mat-khau-2", "see": elsewhere})
    doubled = QaIndex(replace(pack, faq=[*pack.faq, twin]))
    answer = doubled.answer("quen mat khau vneid")
    assert answer is not None and {c.key for c in answer.choices} == {original.id, twin.id}


def test_common_words_do_not_decide(index):
    """'cho tôi hỏi làm sao đăng ký' alone says nothing about which topic."""
    assert index.answer("cho toi hoi lam sao nhu the nao") is None


@pytest.mark.parametrize("text", ["thời tiết hôm nay thế nào", "asdfgh qwerty", "giá vàng hôm nay",
                                  "tỷ số trận bóng tối qua"])
def test_out_of_scope_is_not_answered(index, text):
    assert index.answer(text) is None


def test_a_question_gets_the_answer_related_questions_and_the_course_step(assistant, knowledge):
    me = Chat(assistant, "qa-1")
    [reply] = me.text("quen mat khau vneid thi lam the nao")
    assert reply.text.startswith("❓ ")
    data = data_of([reply])
    assert any(d.startswith("s:vneid:") for d in data)  # into the course step
    related = [d for d in data if d.startswith("f:")]
    assert 1 <= len(related) <= 3 and "m" in data
    [follow] = me.press(related[0])  # a related question opens its answer
    entry = {e.id: e for e in knowledge.pack("vi").faq}[related[0][2:]]
    assert entry.answer.strip()[:40] in follow.text


def test_not_understood_is_honest_and_points_to_people(assistant, sessions, knowledge):
    me = Chat(assistant, "qa-2")
    me.consent_and_skip_profile()   # only a consenting resident's questions are kept
    [reply] = me.text("gia lon hoi hom nay bao nhieu mot can, goi 0912345678")
    assert "chưa hiểu" in reply.text
    for helper in knowledge.pack("vi").assistant.in_person_helpers:
        assert helper in reply.text
    assert knowledge.pack("vi").assistant.ambassador_name in reply.text
    assert "o:vneid" in data_of([reply])  # the topic menu
    me.text("gia lon hoi hom nay bao nhieu mot can, goi 0912345678")
    with sessions() as session:
        [row] = session.scalars(select(UnansweredQuestion)).all()
    assert row.count == 2 and "0912345678" not in row.text and "#" in row.text


@pytest.mark.parametrize("text, words", [("xin chào", "Chào bạn"), ("cam on ban nhieu", "Không có gì"),
                                         ("ok", "vâng"), ("tạm biệt nhé", "Tạm biệt")])
def test_greetings_and_thanks_get_short_replies(assistant, text, words):
    [reply] = Chat(assistant, "qa-3").text(text)
    assert words in reply.text and len(reply.text) < 120


def test_stale_faq_button(assistant):
    [reply] = Chat(assistant, "qa-4").press("f:khong-co")
    assert "cũ rồi" in reply.text


# ---- what content editors see ----------------------------------------------------------------

def test_unanswered_cli_and_admin_api(server, database_url):  # noqa: F811
    me = WebResident(server, "qa-web-000000000000")
    me.say("/start")
    me.press("c:y")   # only a consenting resident's questions are kept
    for _ in range(3):
        me.say("con lon nha toi bi om bo an")
    me.say("tuong thuat bong da toi nay")
    env = {**os.environ, "HOCVUSO_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "unanswered"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[0] == "3" and "lon" in lines[0] and "bong da" in lines[1]
    assert server.get("/api/v1/unanswered").status_code == 401
    listed = server.get("/api/v1/unanswered", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert [row["count"] for row in listed] == [3, 1]
    bad = server.get("/api/v1/unanswered?limit=0", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]


# ---- evaluation --------------------------------------------------------------------------------

SETS_DIR = REPO_ROOT / "tests" / "qa"
TOPICS = {"vneid", "dich-vu-cong", "thanh-toan-so", "an-toan-mang", "cho-so", "chatbot-ai",
          "hoc-binh-dan-hoc-vu-so"}
STYLES = {"particles", "mixed-accent", "short", "long-story", "typos", "teencode"}


@pytest.mark.parametrize("name", list(SETS))
def test_every_set_is_labelled_with_real_entries(index, name):
    devset = load_devset(SETS_DIR / SETS[name])
    for item in devset["questions"]:
        expect = item["expect"]
        assert expect == NO_ENTRY or all(e in index.faq for e in ([expect] if isinstance(expect, str) else expect)), item


@pytest.mark.parametrize("name", ["blind", "blind-2", "blind-3"])
def test_the_blind_sets_cover_topics_and_styles_evenly(name):
    """Issue 13: at least 200 questions, split evenly over the seven topics and the typing
    styles, with at least 40 out of scope."""
    blind = load_devset(SETS_DIR / SETS[name])
    questions, outside = blind["questions"], blind["out_of_scope"]
    assert len(questions) + len(outside) >= 200 and len(outside) >= 40
    by_topic = Counter(q["topic"] for q in questions)
    by_style = Counter(q["style"] for q in questions)
    assert set(by_topic) == TOPICS and max(by_topic.values()) - min(by_topic.values()) <= 1
    assert set(by_style) == STYLES and max(by_style.values()) - min(by_style.values()) <= 1
    assert {q["style"] for q in outside} == STYLES


# What `hocvuso eval-qa` measured when issue 13 was closed (rounded against the assertion):
# right at least, wrong at most, out of scope declined at least. The held-out sets were never
# tuned on; these floors keep a later change from making unseen questions worse unnoticed.
FIGURES = {
    "dev": (0.906, 0.003, 0.983),
    "residents-dev": (0.730, 0.052, 0.966),
    "heldout": (0.706, 0.025, 0.975),
    "blind": (0.720, 0.102, 0.952),
    "blind-2": (0.732, 0.048, 0.976),
    "blind-3": (0.684, 0.096, 0.976),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figures_hold_on_every_set(index, name):
    right, wrong, declined = FIGURES[name]
    result = evaluate(index, load_devset(SETS_DIR / SETS[name]), name)
    assert result.top1 >= right, f"right {result.top1:.1%}"
    assert result.wrong_rate <= wrong, f"wrong {result.wrong_rate:.1%}"
    assert result.rejection >= declined, f"out of scope declined {result.rejection:.1%}"


def test_a_wrong_answer_is_rarer_than_an_honest_decline(index):
    for name in ("residents-dev", "blind", "blind-2", "blind-3"):
        result = evaluate(index, load_devset(SETS_DIR / SETS[name]), name)
        declined = result.count("declined") + result.no_entry["right"]
        assert result.wrong < declined, name


def test_eval_cli_prints_every_set_by_style():
    done = subprocess.run([sys.executable, "-m", "bot.cli", "eval-qa", "--show", "0"], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    for name in SETS:
        assert f"{name}: right " in done.stdout
    blind = done.stdout[done.stdout.index("blind-2: right"):]
    for style in STYLES:
        assert f"  {style} " in blind
