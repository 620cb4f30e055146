"""Mã tiến độ: a code made on one device moves the resident's progress to another browser, or to
Telegram or Zalo, after a confirm; the old resident is then forgotten (bot/progress_codes.py)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from bot import households, progress_codes, share_codes
from bot.models import (Completion, Event, EventSubscription, Household, Progress, ProgressCode, QuizAttempt,
                        Referral, Resident)
from bot.web import create_app
from tests.core_helpers import Chat, count, data_of
from tests.http_helpers import serving
from tests.test_privacy import points_at, rows
from tests.test_share_codes import ambassador, codes_of, resident_id
from tests.test_webchat import WebResident

CODE = re.compile(r"\b(\d{3} \d{3} \d{3})\b")
NOT_UNDERSTOOD = "chưa hiểu"
LEAD_WORDS = frozenset({"ma", "so", "code", "moi", "la", "tien", "do"})


@pytest.fixture(autouse=True)
def fresh_wrong_tries(monkeypatch):
    monkeypatch.setattr(progress_codes, "wrong_tries", progress_codes.WrongTries())


def later(minutes: float):
    """The assistant's clock (datetime.now) moved on from the real one, whatever the hour or date."""
    return time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=minutes), tick=True)


def resident(assistant, name: str, platform: str = "web", first_name: str | None = None) -> Chat:
    chat = Chat(assistant, name, first_name=first_name, platform=platform)
    chat.consent_and_skip_profile()
    return chat


def make_code(chat: Chat, via: str = "command") -> str:
    """The code the resident gets, as shown ("482 109 375"), from /matiendo or from /caidat."""
    if via == "command":
        [reply] = chat.cmd("matiendo")
    else:
        chat.cmd("caidat")
        [reply] = chat.tap("mv:new")
    [shown] = set(CODE.findall(reply.text))
    assert "15" in reply.text and "Đồng ý" in reply.text and "/matiendo" not in reply.text
    return shown


def confirm_buttons(replies) -> tuple[str, str]:
    [yes] = [d for d in data_of(replies) if d.startswith("mv:y:")]
    [no] = [d for d in data_of(replies) if d.startswith("mv:n:")]
    return yes, no


def no_trace_of(sessions, rid: int) -> list[str]:
    return [f"{table.name}.{name}" for table, row in rows(sessions) for name in points_at(table, row, rid)]


# ---- the code's form -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["482 109 375", "482109375", "482-109-375", "482.109.375", " 482 109 375 ",
                                   "4821 09375", "Mã tiến độ: 482 109 375", "ma tien do 482109375",
                                   "mã số 482-109-375", "MA TIEN DO : 482 109 375", "482\u00a0109\u00a0375"])
def test_a_progress_code_is_read_with_or_without_spaces_words_and_diacritics(typed):
    assert progress_codes.read_code(typed, LEAD_WORDS) == "482109375"


@pytest.mark.parametrize("typed", ["", "48210937", "4821093751", "482 109 37x", "so cmnd 482 109 375",
                                   "goi 482 109 375", "482 109 375 a", "４８２１０９３７５", "482/109/375",
                                   "ma " * 12 + "482109375"])
def test_other_text_is_no_progress_code(typed):
    assert progress_codes.read_code(typed, LEAD_WORDS) is None


def test_nine_digits_are_never_a_share_code_and_no_share_code_is_nine_characters():
    """Share codes are 6, 8 or 10 symbols of Crockford's base32, which has the digits in it: a
    household code may be all digits. A progress code is told apart by its length alone."""
    assert 9 not in share_codes.LENGTHS and progress_codes.DIGITS == 9
    for _ in range(200):
        code = progress_codes.new_code()
        assert re.fullmatch(r"\d{9}", code)
        shown = progress_codes.display(code)
        assert CODE.fullmatch(shown) and progress_codes.read_code(shown) == code
        assert share_codes.read_code(shown) is None and share_codes.codes_in(shown, LEAD_WORDS) == []
    for length in share_codes.LENGTHS:
        assert progress_codes.read_code("7" * length) is None


# ---- the whole move over the core ----------------------------------------------------------------------

def test_web_to_web_moves_completions_progress_and_ambassador_credit_and_forgets_the_old_browser(
        assistant, sessions, knowledge):
    pack = knowledge.pack("vi")
    vneid, payments = pack.courses["vneid"], pack.courses["thanh-toan-so"]
    old = ambassador(assistant, sessions, "old-browser", "web")
    old.walk_course(vneid)
    old.take_quiz(vneid)
    old.cmd("menu")
    old.tap(f"o:{payments.id}")
    old.tap(f"s:{payments.id}:1")
    old.tap(f"s:{payments.id}:2")
    old.cmd("tiendo")
    old.tap("cert:1")
    old.cmd("giadinh")
    old.tap("gd:new")
    # A neighbour comes through the old browser's share code: a credit to the ambassador.
    old.press("sh")
    [guide] = codes_of(old.press("sh:vneid"))
    source = resident_id(sessions, "old-browser")
    neighbour = Chat(assistant, "neighbour", platform="zalo")
    neighbour.text(guide)
    neighbour.tap(f"c:y:g_vneid_0_{source}")
    with sessions.begin() as session:
        event = Event(title="Lớp học VNeID", starts_at=datetime.now(timezone.utc) + timedelta(days=9))
        session.add(event)
        session.flush()
        session.add(EventSubscription(event_id=event.id, resident_id=source))
        event_id = event.id
    assert count(sessions, Referral, ambassador_id=source) == 1

    # The same person opens the link in another app's browser: a new web session.
    new = resident(assistant, "new-browser")
    target = resident_id(sessions, "new-browser")
    shown = make_code(old, via="settings")
    question, = new.text(shown.replace(" ", ""))
    assert "Chuyển tiến độ" in question.text and vneid.button in question.text and payments.button in question.text
    assert "bước 3/" in question.text and "🎖" in question.text and "Đại sứ số" in question.text
    yes, no = confirm_buttons([question])
    with sessions() as session:
        assert session.scalar(select(ProgressCode.claimed_by)) == target
        assert session.scalar(select(Resident.id).where(Resident.external_id == "old-browser")) == source
    done, progress = new.tap(yes)
    assert "Xong" in done.text and done.edit
    assert "đã hoàn thành" in progress.text and f"3/{len(payments.steps)}" in progress.text

    with sessions() as session:
        me = session.get(Resident, target)
        assert (me.platform, me.external_id) == ("web", "new-browser")
        assert me.certified_at is not None and me.ambassador_since is not None and me.household_id is not None
        assert session.get(Completion, (target, "vneid")) is not None
        assert session.get(Progress, (target, payments.id)).step_index == 2
        assert session.scalar(select(QuizAttempt.resident_id)) == target
        [referral] = session.scalars(select(Referral)).all()
        assert referral.ambassador_id == target
        assert session.get(EventSubscription, (event_id, target)) is not None
        assert session.scalar(select(Household.created_by)) == target
        assert session.scalar(select(Resident).where(Resident.external_id == "old-browser")) is None
    assert no_trace_of(sessions, source) == []
    assert count(sessions, Resident) == 2   # the person and the neighbour: one person counted once
    # The old browser is a stranger now; the ambassador page on the new one names the neighbour.
    [gone] = old.cmd("tiendo")
    assert "không lưu" in gone.text
    [page] = new.cmd("daisuso")
    assert "Lan" in page.text


def test_web_to_telegram_keeps_the_telegram_identity_and_the_further_step(assistant, sessions, knowledge):
    vneid = knowledge.pack("vi").courses["vneid"]
    old = resident(assistant, "web-session")
    old.tap("lm:1")                             # "Tôi muốn nghe" in the web chat
    old.walk_course(vneid)                      # to the last step of VNeID
    with sessions.begin() as session:
        session.get(Resident, resident_id(sessions, "web-session")).village_id = "kv-tong-lanh"
    tg = Chat(assistant, "70123", first_name="Lan", platform="telegram")
    tg.cmd("start")
    tg.tap("c:y")
    tg.tap("ps:v")
    tg.tap("g:nguoi-dan")
    tg.tap("ps:a")
    tg.tap("o:vneid")                           # step 1 here
    tg.tap("s:vneid:1")
    shown = make_code(old)
    [question] = tg.text(f"ma tien do {shown}")
    assert f"{len(vneid.steps)}/{len(vneid.steps)}" in question.text
    yes, _ = confirm_buttons([question])
    tg.tap(yes)
    with sessions() as session:
        [me] = session.scalars(select(Resident)).all()
        assert (me.platform, me.external_id, me.first_name) == ("telegram", "70123", "Lan")
        assert (me.village_id, me.group_id) == ("kv-tong-lanh", "nguoi-dan")   # what it lacked, and its own
        assert session.get(Progress, (me.id, "vneid")).step_index == len(vneid.steps) - 1
        assert me.listen is True                # the setting came along


def test_a_neighbours_credit_follows_them_and_a_credit_to_oneself_goes(assistant, sessions):
    ba = ambassador(assistant, sessions, "credit-ba", "zalo")
    ba.press("sh")
    [guide] = codes_of(ba.press("sh:vneid"))
    aid = resident_id(sessions, "credit-ba")
    # A neighbour credited to the ambassador moves from the web chat to Telegram: still credited.
    neighbour = Chat(assistant, "credit-neighbour", platform="web")
    neighbour.text(guide)
    neighbour.tap(f"c:y:g_vneid_0_{aid}")
    tg = resident(assistant, "credit-tg", platform="telegram")
    [question] = tg.text(make_code(neighbour))
    tg.tap(confirm_buttons([question])[0])
    with sessions() as session:
        [credit] = session.scalars(select(Referral)).all()
        assert (credit.resident_id, credit.ambassador_id) == (resident_id(sessions, "credit-tg"), aid)
    # The ambassador's own second device came through their link: once one person, no credit.
    own = Chat(assistant, "credit-ba-web", platform="web")
    own.text(guide)
    own.tap(f"c:y:g_vneid_0_{aid}")
    assert count(sessions, Referral, ambassador_id=aid) == 2
    [question] = own.text(make_code(ba))
    own.tap(confirm_buttons([question])[0])
    target = resident_id(sessions, "credit-ba-web")
    with sessions() as session:
        [credit] = session.scalars(select(Referral)).all()
        assert (credit.resident_id, credit.ambassador_id) == (resident_id(sessions, "credit-tg"), target)
        assert session.get(Resident, target).ambassador_since is not None


def test_the_same_courses_on_both_sides_keep_the_first_pass_and_the_best_score(assistant, sessions, knowledge):
    vneid = knowledge.pack("vi").courses["vneid"]
    questions = len(vneid.quiz.questions)
    old = resident(assistant, "first")
    old.walk_course(vneid)
    old.take_quiz(vneid, [True] * questions)
    new = resident(assistant, "second", platform="zalo")
    new.walk_course(vneid)
    new.take_quiz(vneid, [True] * (questions - 1) + [False])
    source, target = resident_id(sessions, "first"), resident_id(sessions, "second")
    with sessions() as session:
        first = session.get(Completion, (source, "vneid"))
        first_at, best = first.completed_at, first.best_percent
        assert session.get(Completion, (target, "vneid")).best_percent < best
    [question] = new.text(make_code(old))
    new.tap(confirm_buttons([question])[0])
    with sessions() as session:
        [done] = session.scalars(select(Completion)).all()
        assert (done.resident_id, done.completed_at, done.best_percent) == (target, first_at, best)
        assert count(sessions, QuizAttempt, resident_id=target) == 2


# ---- the code's limits -----------------------------------------------------------------------------

def test_a_code_expires_after_15_minutes(assistant, sessions):
    old = resident(assistant, "slow-old")
    new = resident(assistant, "slow-new")
    shown = make_code(old)
    with later(16):
        [late] = new.text(shown)
    assert "15 phút" in late.text and "/matiendo" in late.text
    assert not any(d.startswith("mv:") for d in data_of([late]))
    # Confirmed too late: typed at minute 14, Yes pressed at minute 16.
    shown = make_code(old)
    with later(14):
        [question] = new.text(shown)
    yes, _ = confirm_buttons([question])
    with later(16):
        [late] = new.tap(yes)
    assert "không dùng được nữa" in late.text
    assert count(sessions, Resident) == 2


def test_a_code_works_once_and_a_new_code_replaces_the_old(assistant, sessions):
    old = resident(assistant, "once-old")
    new = resident(assistant, "once-new")
    third = resident(assistant, "once-third")
    first = make_code(old)
    shown = make_code(old)                      # the first one stops working
    assert first != shown
    [wrong] = new.text(first)
    assert "chưa đúng" in wrong.text
    [question] = new.text(shown)
    yes, _ = confirm_buttons([question])
    new.tap(yes)
    [again] = new.press(yes)                    # a double tap
    assert "đã chuyển về đây rồi" in again.text
    [again] = new.text(shown)
    assert "đã chuyển về đây rồi" in again.text
    [used] = third.text(shown)
    assert "đã dùng rồi" in used.text and "/matiendo" in used.text
    assert count(sessions, Resident) == 2


def test_wrong_codes_lock_the_resident_for_15_minutes(assistant, sessions):
    old = resident(assistant, "lock-old")
    new = resident(assistant, "lock-new")
    shown = make_code(old)
    right = progress_codes.read_code(shown)
    wrong = f"{(int(right) + 1) % 10 ** 9:09d}"
    for _ in range(progress_codes.WRONG_TRIES - 1):
        [answer] = new.text(wrong)
        assert "chưa đúng" in answer.text and "9 chữ số" in answer.text
    [locked] = new.text(wrong)
    assert "5 lần" in locked.text and "15 phút" in locked.text
    [still] = new.text(shown)                   # even the right code waits
    assert "phút" in still.text and not any(d.startswith("mv:") for d in data_of([still]))
    # Someone else is not locked out; and after 15 minutes, this resident may try again.
    other = resident(assistant, "lock-other")
    [answer] = other.text(wrong)
    assert "chưa đúng" in answer.text
    with later(15.5):
        [question] = new.text(make_code(old))
    assert "mv:y:" in " ".join(data_of([question]))


def test_wrong_progress_codes_spend_the_share_code_budget(assistant, sessions, monkeypatch):
    monkeypatch.setattr(share_codes, "wrong_codes", share_codes.WrongCodes("3 per hour"))
    mother = resident(assistant, "budget-mother")
    mother.cmd("giadinh")
    [household] = codes_of(mother.tap("gd:new"))
    old = resident(assistant, "budget-old")
    shown = make_code(old)
    for n in range(3):
        [answer] = resident(assistant, f"guesser-{n}").text(f"111 222 33{n}")
        assert "chưa đúng" in answer.text
    new = resident(assistant, "budget-new")
    [busy] = new.text(shown)
    assert "một tiếng" in busy.text and not any(d.startswith("mv:") for d in data_of([busy]))
    [answer] = new.text(household)              # share codes are not looked up either
    assert NOT_UNDERSTOOD in answer.text


def test_a_not_yet_consented_chat_is_asked_to_agree_first_and_nothing_is_stored(assistant, sessions):
    old = resident(assistant, "consent-old")
    shown = make_code(old)
    stranger = Chat(assistant, "consent-new", platform="web")
    agree, consent = stranger.text(shown)
    assert "Đồng ý" in agree.text and data_of([consent]) == ["c:y", "c:n"]
    assert count(sessions, Resident) == 1
    with sessions() as session:
        assert session.scalar(select(ProgressCode.claimed_by)) is None
    # /matiendo there says the same: nothing to move from a chat that keeps nothing.
    agree, consent = stranger.cmd("matiendo")
    assert data_of([consent]) == ["c:y", "c:n"]
    stranger.tap("c:y")
    [question] = stranger.text(shown)
    stranger.tap(confirm_buttons([question])[0])
    assert count(sessions, Resident) == 1 and resident_id(sessions, "consent-old") is None


def test_no_moves_nothing_and_the_code_still_works_until_it_expires(assistant, sessions, knowledge):
    vneid = knowledge.pack("vi").courses["vneid"]
    old = resident(assistant, "no-old")
    old.walk_course(vneid)
    new = resident(assistant, "no-new")
    shown = make_code(old)
    [question] = new.text(shown)
    yes, no = confirm_buttons([question])
    [answer] = new.tap(no)
    assert "chưa chuyển gì" in answer.text and answer.edit
    source = resident_id(sessions, "no-old")
    with sessions() as session:
        assert session.get(Resident, source) is not None
        assert session.scalar(select(Progress).where(Progress.resident_id == resident_id(sessions, "no-new"))) is None
        code = session.scalar(select(ProgressCode))
        assert (code.claimed_by, code.used_at) == (None, None)
    [gone] = new.press(yes)                     # the old question's Yes no longer moves anything
    assert "không dùng được nữa" in gone.text and resident_id(sessions, "no-old") == source
    [question] = new.text(shown)                # a slip of the finger: send it again
    new.tap(confirm_buttons([question])[0])
    assert resident_id(sessions, "no-old") is None


def test_ones_own_code_and_odd_input_get_kind_answers(assistant, sessions):
    old = resident(assistant, "self")
    shown = make_code(old)
    [own] = old.text(shown)
    assert "máy bên kia" in own.text and not any(d.startswith("mv:") for d in data_of([own]))
    [own] = old.cmd("matiendo", shown)          # /matiendo <code> sends a code too
    assert "máy bên kia" in own.text
    [bad] = old.cmd("matiendo", "12345")
    assert "9 chữ số" in bad.text
    [stale] = old.press("mv:y:abc")
    assert "cũ" in stale.text
    [stale] = old.press("mv:y:99999")
    assert "không dùng được nữa" in stale.text
    assert resident_id(sessions, "self") is not None


def test_share_codes_still_work_even_when_all_digits(assistant, sessions, monkeypatch):
    monkeypatch.setattr(households, "new_code", lambda length: "48210937")
    mother = resident(assistant, "digits-mother")
    mother.cmd("giadinh")
    [code] = codes_of(mother.tap("gd:new"))
    assert code == "4821-0937"
    son = resident(assistant, "digits-son")
    [joined] = son.text("4821 0937")
    assert "🎉" in joined.text
    [joined] = son.text("ma so 48210937")
    assert "🎉" in joined.text


# ---- over HTTP, as the web page does it ----------------------------------------------------------------

@pytest.fixture
def web(settings_for, assistant):
    with serving(create_app(settings_for(), assistant)) as client:
        yield client


def test_the_move_between_two_browsers_over_the_web_chat_api(web, sessions):
    old, new = WebResident(web, "browser-one-0123456789abcdef"), WebResident(web, "browser-two-0123456789abcdef")
    for chat in (old, new):
        chat.say("/start")
        for data in ("c:y", "ps:v", "ps:g", "ps:a"):
            chat.press(data)
    old.say("/caidat")
    [shown] = CODE.findall(old.press("mv:new")[0]["text"])[:1]
    [question] = new.say(f"Mã tiến độ {shown}")
    yes = next(d for d in new.offered() if d.startswith("mv:y:"))
    assert "mv:n:" in " ".join(new.offered())
    done, progress = new.press(yes)
    assert "Xong" in done["text"] and done["edit"] is True
    assert count(sessions, Resident) == 1
    with sessions() as session:
        assert session.scalar(select(Resident.external_id)) == "browser-two-0123456789abcdef"
    [stranger] = old.say("/tiendo")
    assert "không lưu" in stranger["text"]
