"""Free-text questions: normalization, retrieval replies, the honest fallback, smalltalk,
the log of unanswered questions (CLI and admin API), and the evaluation targets."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from bot.config import REPO_ROOT
from bot.models import UnansweredQuestion
from bot.qa import Normalizer, QaIndex
from bot.qa.evaluate import evaluate, load_devset

HELDOUT = REPO_ROOT / "tests" / "qa" / "heldout.yaml"
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

def test_devset_is_big_enough_and_labelled_with_real_entries(index):
    devset = load_devset()
    assert len(devset["questions"]) >= 200 and len(devset["out_of_scope"]) >= 30
    assert all(item["expect"] in index.faq for item in devset["questions"])


# Issue 4's targets, on the dev set: top-1 >= 90% with out-of-scope rejection >= 85%.
TOP1_TARGET = 0.90
REJECTION_TARGET = 0.85
WRONG_ANSWER_CEILING = 0.05


def test_eval_meets_the_targets_on_the_dev_set(index):
    result = evaluate(index, load_devset())
    assert result.top1 >= TOP1_TARGET, f"top-1 accuracy {result.top1:.1%}"
    assert result.rejection >= REJECTION_TARGET, f"out-of-scope rejection {result.rejection:.1%}"
    assert result.wrong / result.total <= WRONG_ANSWER_CEILING, f"{result.wrong} wrong answers"


# tests/qa/heldout.yaml was written blind to the dev set and never used for tuning: it shows
# how the assistant does on wording nobody tuned for. It scores lower than the dev set (see
# README); these floors are what it measured the first time it was run, so that no change
# makes unseen questions worse unnoticed.
HELDOUT_TOP1_FLOOR = 0.75
HELDOUT_REJECTION_FLOOR = 0.85
HELDOUT_WRONG_CEILING = 0.13


def test_heldout_set_does_not_fall_below_its_first_measurement(index):
    result = evaluate(index, load_devset(HELDOUT))
    assert len(result.misses) + result.correct == result.total >= 150
    assert result.top1 >= HELDOUT_TOP1_FLOOR, f"top-1 accuracy {result.top1:.1%}"
    assert result.rejection >= HELDOUT_REJECTION_FLOOR, f"out-of-scope rejection {result.rejection:.1%}"
    assert result.wrong / result.total <= HELDOUT_WRONG_CEILING, f"{result.wrong} wrong answers"


def test_eval_cli_prints_both_figures():
    done = subprocess.run([sys.executable, "-m", "bot.cli", "eval-qa", "--show", "0"], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert "top-1 accuracy:" in done.stdout and "out-of-scope rejection:" in done.stdout
