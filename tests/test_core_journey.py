"""The platform-neutral conversation core, driven as a resident would drive it."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.assistant import Assistant
from bot.db import make_engine, make_sessionmaker
from bot.handlers.fallback import UNSUPPORTED
from bot.handlers.start import CONSENT_VERSION
from bot.i18n import translator
from bot.models import (
    AnonymousCounter,
    Completion,
    ProcessedUpdate,
    Progress,
    QuizAnswer,
    QuizAttempt,
    Resident,
)
from bot.replies import CALLBACK_DATA_MAX, Incoming
from tests.core_helpers import (
    TZ,
    VI_CHARS,
    Chat,
    answer_button,
    check_reply_limits,
    count,
    data_of,
    has_menu,
    labels_of,
    today_local,
)

PERSONAL_TABLES = (Resident, Progress, QuizAttempt, QuizAnswer, Completion)


@pytest.fixture
def pack(knowledge):
    return knowledge.pack("vi")


@pytest.fixture
def vneid(pack):
    return pack.courses["vneid"]


def resident_row(sessions, external_id: str, platform: str = "terminal") -> Resident | None:
    with sessions() as s:
        return s.scalars(select(Resident).where(Resident.platform == platform,
                                                Resident.external_id == external_id)).one_or_none()


def personal_counts(sessions) -> dict[str, int]:
    return {m.__tablename__: count(sessions, m) for m in PERSONAL_TABLES}


def counters(sessions) -> dict[str, int]:
    with sessions() as s:
        return {row.name: row.count for row in s.scalars(select(AnonymousCounter))}


# ---- the happy path ---------------------------------------------------------------------

def test_full_consented_journey(assistant, sessions, knowledge, pack, vneid):
    chat = Chat(assistant, "lan-1", "Lan")
    greeting, consent = chat.cmd("start")
    assert "Xin chào" in greeting.text and pack.assistant.commune_name in greeting.text
    assert data_of([consent]) == ["c:y", "c:n"]
    assert resident_row(sessions, "lan-1") is None  # nothing stored before the yes

    before = datetime.now(timezone.utc)
    thanks, village_q = chat.tap("c:y")
    assert "Cảm ơn" in thanks.text and "/xoadulieu" in thanks.text
    row = resident_row(sessions, "lan-1")
    assert row is not None and row.first_name == "Lan"
    assert row.consent_version == CONSENT_VERSION
    assert row.consent_at is not None and before - timedelta(seconds=5) <= row.consent_at <= datetime.now(timezone.utc)

    # The profile: village, group, age band, chosen from what is offered.
    village = knowledge.villages[1]
    group = pack.profile.groups[0]
    band = pack.profile.age_bands[2]
    assert f"v:{village.id}" in data_of([village_q])
    [group_q] = chat.tap(f"v:{village.id}")
    assert "nhóm" in group_q.text
    [age_q] = chat.tap(f"g:{group.id}")
    assert "tuổi" in age_q.text
    [done] = chat.tap(f"a:{band.id}")
    row = resident_row(sessions, "lan-1")
    assert (row.village_id, row.group_id, row.age_band) == (village.id, group.id, band.id)

    # The menu lists VNeID.
    [menu] = chat.cmd("menu")
    assert has_menu(menu, pack)
    vneid_buttons = [b for r in menu.buttons for b in r if b.data == "o:vneid"]
    assert vneid_buttons and vneid_buttons[0].label == vneid.button

    # Every step, Bước k/n.
    total = len(vneid.steps)
    steps = chat.walk_course(vneid)
    assert len(steps) == total
    for k, replies in enumerate(steps, start=1):
        [step] = replies
        assert f"Bước {k}/{total}" in step.text
        assert vneid.steps[k - 1].title in step.text
        # A step with a picture comes as new messages (the picture goes first); the others in place.
        assert step.edit is (vneid.steps[k - 1].image is None)
        assert (step.image is not None) is (vneid.steps[k - 1].image is not None)
        if k < total:
            assert f"s:vneid:{k}" in data_of(replies)  # Tiếp ➡️ names the next step
        if k > 1:
            assert f"s:vneid:{k - 2}" in data_of(replies)  # ⬅️ Quay lại
    last = steps[-1][0].text
    assert any(helper in last for helper in pack.assistant.in_person_helpers)
    assert "cập nhật" in last
    assert "q:vneid" in data_of(steps[-1])
    with sessions() as s:
        assert s.get(Progress, (row.id, "vneid")).step_index == total - 1

    # The quiz, all correct.
    final = chat.take_quiz(vneid, right=True)
    feedback, result = final
    assert "Đúng rồi" in feedback.text
    n = len(vneid.quiz.questions)
    assert f"đúng {n}/{n} câu (100%)" in result.text
    assert "Chúc mừng" in result.text and today_local() in result.text
    with sessions() as s:
        done_row = s.get(Completion, (row.id, "vneid"))
        assert done_row is not None and done_row.best_percent == 100
        assert done_row.completed_at.astimezone(TZ).date() == datetime.now(TZ).date()
        [attempt] = s.scalars(select(QuizAttempt).where(QuizAttempt.resident_id == row.id)).all()
        assert attempt.passed is True and attempt.finished_at is not None
        assert (attempt.answered, attempt.correct, attempt.total) == (n, n, n)
        assert count(sessions, QuizAnswer, attempt_id=attempt.id) == n

    [progress] = chat.cmd("tiendo")
    assert "✅" in progress.text and "đã hoàn thành" in progress.text and today_local() in progress.text
    assert "q:vneid" not in data_of([progress])


def test_skipping_every_profile_question_stores_nothing(assistant, sessions, pack):
    chat = Chat(assistant, "skip-1")
    chat.cmd("start")
    _, village_q = chat.tap("c:y")
    assert "ps:v" in data_of([village_q])
    [group_q] = chat.tap("ps:v")
    assert "ps:g" in data_of([group_q]) and any(d.startswith("g:") for d in data_of([group_q]))
    [age_q] = chat.tap("ps:g")
    assert "ps:a" in data_of([age_q]) and any(d.startswith("a:") for d in data_of([age_q]))
    [done] = chat.tap("ps:a")
    assert "Xong rồi" in done.text and has_menu(done, pack)
    row = resident_row(sessions, "skip-1")
    assert row is not None
    assert (row.village_id, row.group_id, row.age_band) == (None, None, None)


def test_village_list_pages(assistant, knowledge):
    chat = Chat(assistant, "pages-1")
    chat.cmd("start")
    _, first = chat.tap("c:y")
    shown = [d for d in data_of([first]) if d.startswith("v:")]
    assert shown == [f"v:{v.id}" for v in knowledge.villages[:8]]
    [again] = chat.press("pv:999")  # past the end: clamps to the last page, never crashes
    assert [d for d in data_of([again]) if d.startswith("v:")]


def test_never_asks_ethnicity(assistant, pack, vneid):
    chat = Chat(assistant, "ethnic-1")
    chat.consent_and_skip_profile()
    # /hoso asks the profile again: village, group, age band and nothing else.
    [village_q] = chat.cmd("hoso")
    [group_q] = chat.tap(f"v:{chat.assistant.knowledge.villages[0].id}")
    [age_q] = chat.tap(f"g:{pack.profile.groups[0].id}")
    [done] = chat.tap(f"a:{pack.profile.age_bands[0].id}")
    assert "Xong rồi" in done.text  # after the age band the profile is finished
    for question in (village_q, group_q, age_q):
        words = (question.text + " " + " ".join(labels_of([question]))).lower()
        assert "dân tộc" not in words and "ethnic" not in words
    chat.walk_course(vneid)
    chat.take_quiz(vneid)
    chat.cmd("tiendo")
    chat.cmd("trogiup")
    mentions = [r.text for r in chat.log if "dân tộc" in r.text.lower()]
    assert len(mentions) == 1, "only the consent text may mention ethnicity"
    assert "không bao giờ hỏi dân tộc" in mentions[0]
    assert not any("dân tộc" in label.lower() for label in labels_of(chat.log))
    columns = " ".join(Resident.__table__.columns.keys())
    assert "ethnic" not in columns and "dan_toc" not in columns


# ---- saying no ---------------------------------------------------------------------------

def test_consent_no_full_course_and_quiz_stores_nothing(assistant, sessions, pack, vneid):
    chat = Chat(assistant, "no-1")
    chat.cmd("start")
    [menu] = chat.tap("c:n")
    assert "không lưu" in menu.text and has_menu(menu, pack)
    steps = chat.walk_course(vneid)
    assert f"Bước {len(vneid.steps)}/{len(vneid.steps)}" in steps[-1][0].text
    final = chat.take_quiz(vneid)
    n = len(vneid.quiz.questions)
    assert f"đúng {n}/{n} câu (100%)" in final[-1].text
    assert "không được ghi lại" in final[-1].text
    [progress] = chat.cmd("tiendo")
    assert "không lưu" in progress.text
    [profile] = chat.cmd("hoso")
    assert "không giữ hồ sơ" in profile.text
    [profile_button] = chat.press("v:kv-tong-lanh")
    assert "không giữ hồ sơ" in profile_button.text

    assert personal_counts(sessions) == {t.__tablename__: 0 for t in PERSONAL_TABLES}
    seen = counters(sessions)
    for name in ("consent_no", "course_open:vneid", "quiz_start:vneid", "quiz_pass:vneid"):
        assert seen.get(name, 0) >= 1, name
    with sessions() as s:
        days = set(s.scalars(select(AnonymousCounter.day)))
    assert days == {datetime.now(TZ).date()}


def test_consent_no_forged_score_cannot_exceed_question_index(assistant, vneid):
    chat = Chat(assistant, "forge-1")
    chat.decline()
    questions = vneid.quiz.questions
    n = len(questions)

    def score_carried(replies) -> set[int]:
        return {int(d.split(":")[5]) for d in data_of(replies) if d.startswith("qa:")}

    right = lambda i: questions[i].answer - 1  # noqa: E731
    wrong = lambda i: questions[i].answer % len(questions[i].options)  # noqa: E731

    # Question 1 answered wrongly with a forged carried score of 50: still 0.
    replies = chat.press(f"qa:vneid:0:0:{wrong(0)}:50")
    assert score_carried(replies) == {0}
    # Question 4 right with a forged 999: at most 3 earlier + this one.
    replies = chat.press(f"qa:vneid:0:3:{right(3)}:999")
    assert score_carried(replies) == {4}
    # The last question wrong with a forged 999: n-1 at most.
    replies = chat.press(f"qa:vneid:0:{n - 1}:{wrong(n - 1)}:999")
    assert f"đúng {n - 1}/{n} câu" in replies[-1].text
    # An honest carried score is kept.
    replies = chat.press(f"qa:vneid:0:5:{right(5)}:2")
    assert score_carried(replies) == {3}


def test_withdrawing_consent_deletes_the_residents_rows(assistant, sessions, vneid):
    other = Chat(assistant, "keep-me")
    other.consent_and_skip_profile()
    other.walk_course(vneid)

    chat = Chat(assistant, "withdraw-1")
    chat.cmd("start")
    chat.tap("c:y")
    chat.tap(f"v:{assistant.knowledge.villages[0].id}")
    chat.walk_course(vneid)
    chat.take_quiz(vneid)
    chat.tap("q:vneid")  # an unfinished second attempt too
    rid = resident_row(sessions, "withdraw-1").id
    assert count(sessions, Completion, resident_id=rid) == 1
    assert count(sessions, QuizAttempt, resident_id=rid) == 2

    [reply] = chat.press("c:n")
    assert "không lưu gì" in reply.text
    assert resident_row(sessions, "withdraw-1") is None
    for model in (Progress, QuizAttempt, Completion):
        assert count(sessions, model, resident_id=rid) == 0
    assert count(sessions, QuizAnswer) == 0  # only withdraw-1 ever answered
    # The other resident keeps everything.
    keep = resident_row(sessions, "keep-me")
    assert keep is not None and count(sessions, Progress, resident_id=keep.id) == 1


# ---- quizzes -----------------------------------------------------------------------------

def test_quiz_fail_retry_pass_keeps_first_date_and_best_score(assistant, sessions, vneid):
    chat = Chat(assistant, "retry-1")
    chat.consent_and_skip_profile()
    chat.walk_course(vneid)
    n = len(vneid.quiz.questions)
    rid = resident_row(sessions, "retry-1").id

    final = chat.take_quiz(vneid, right=False)
    feedback, result = final
    assert "Chưa đúng" in feedback.text
    assert f"đúng 0/{n} câu (0%)" in result.text
    assert "q:vneid" in data_of([result]) and "s:vneid:0" in data_of([result])
    assert count(sessions, Completion, resident_id=rid) == 0
    with sessions() as s:
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.resident_id == rid)).one()
        assert attempt.passed is False and attempt.correct == 0 and attempt.answered == n

    # Retry: 8 of 10 right is exactly the pass mark.
    plan = [True] * n
    plan[0] = plan[1] = False
    result = chat.take_quiz(vneid, right=plan)[-1]
    percent = round(100 * (n - 2) / n)
    assert percent >= vneid.quiz.pass_percent
    assert f"({percent}%)" in result.text and "Chúc mừng" in result.text
    with sessions() as s:
        first = s.get(Completion, (rid, "vneid"))
        assert first.best_percent == percent
    first_at = first.completed_at

    # A better pass later raises the best score but keeps the first date.
    chat.take_quiz(vneid, right=True)
    with sessions() as s:
        again = s.get(Completion, (rid, "vneid"))
        assert again.best_percent == 100 and again.completed_at == first_at
    # A worse pass (and a fail) afterwards changes neither.
    plan = [True] * n
    plan[3] = False
    chat.take_quiz(vneid, right=plan)
    chat.take_quiz(vneid, right=False)
    with sessions() as s:
        again = s.get(Completion, (rid, "vneid"))
        assert again.best_percent == 100 and again.completed_at == first_at
        attempts = s.scalars(select(QuizAttempt).where(QuizAttempt.resident_id == rid)
                             .order_by(QuizAttempt.id)).all()
    assert [a.passed for a in attempts] == [False, True, True, True, False]


def test_answering_another_residents_attempt_is_refused(assistant, sessions, pack, vneid):
    owner = Chat(assistant, "owner-1")
    owner.consent_and_skip_profile()
    replies = owner.press("q:vneid")
    attempt_id = int(data_of(replies)[0].split(":")[2])

    intruder = Chat(assistant, "intruder-1")
    intruder.consent_and_skip_profile()
    right = vneid.quiz.questions[0].answer - 1
    for data in (f"qa:vneid:{attempt_id}:0:{right}:0", "qa:vneid:999:0:0:0"):
        [reply] = intruder.press(data)
        assert has_menu(reply, pack) and VI_CHARS.search(reply.text)
    with sessions() as s:
        attempt = s.get(QuizAttempt, attempt_id)
        assert attempt.answered == 0 and attempt.correct == 0
    assert count(sessions, QuizAnswer) == 0


# ---- double taps and redelivered updates --------------------------------------------------

def test_double_tap_step_and_answer(assistant, sessions, vneid):
    chat = Chat(assistant, "double-1")
    chat.consent_and_skip_profile()
    first = chat.press("s:vneid:3")
    second = chat.press("s:vneid:3")
    total = len(vneid.steps)
    assert f"Bước 4/{total}" in first[0].text and f"Bước 4/{total}" in second[0].text
    rid = resident_row(sessions, "double-1").id
    with sessions() as s:
        assert s.get(Progress, (rid, "vneid")).step_index == 3

    replies = chat.press("q:vneid")
    data = answer_button(replies[-1], 0, vneid.quiz.questions[0].answer - 1)
    assert len(chat.press(data)) == 2
    assert chat.press(data) == []  # the same tap again
    other_choice = answer_button(replies[-1], 0, vneid.quiz.questions[0].answer % 2)
    assert chat.press(other_choice) == []  # a change of mind on an answered question
    with sessions() as s:
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.resident_id == rid)).one()
        assert attempt.answered == 1 and attempt.correct == 1
        answers = s.scalars(select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id)).all()
    assert len(answers) == 1 and answers[0].correct is True


def test_duplicate_update_key_is_handled_once(assistant, sessions, vneid):
    chat = Chat(assistant, "dup-1")
    chat.consent_and_skip_profile()
    rid = resident_row(sessions, "dup-1").id
    first = chat.press("s:vneid:2", update=("telegram", 77))
    assert f"Bước 3/{len(vneid.steps)}" in first[0].text
    assert chat.press("s:vneid:5", update=("telegram", 77)) == []
    with sessions() as s:
        assert s.get(Progress, (rid, "vneid")).step_index == 2
    assert count(sessions, ProcessedUpdate) == 1
    # The same id from another source is a different update.
    assert chat.press("s:vneid:5", update=("web", 77))
    with sessions() as s:
        assert s.get(Progress, (rid, "vneid")).step_index == 5

    # A redelivered consent from someone new creates no resident.
    newcomer = Chat(assistant, "dup-2")
    assert newcomer.cmd("start")
    assert len(newcomer.press("c:n", update=("telegram", 78))) == 1
    assert newcomer.press("c:y", update=("telegram", 78)) == []
    assert resident_row(sessions, "dup-2") is None
    assert counters(sessions)["consent_no"] == 1


# ---- deleting data --------------------------------------------------------------------------

def test_delete_data_no_keeps_and_yes_deletes_everything(assistant, sessions, pack, vneid):
    chat = Chat(assistant, "del-1")
    chat.consent_and_skip_profile()
    chat.walk_course(vneid)
    chat.take_quiz(vneid, right=True)
    chat.tap("q:vneid")
    before = personal_counts(sessions)
    assert all(before.values()), before

    [ask] = chat.cmd("xoadulieu")
    assert set(data_of([ask])) == {"x:y", "x:n"}
    [kept] = chat.tap("x:n")
    assert "không xoá" in kept.text and has_menu(kept, pack)
    assert personal_counts(sessions) == before

    chat.cmd("xoadulieu")
    [gone] = chat.tap("x:y")
    assert "đã xoá hết" in gone.text and has_menu(gone, pack)
    assert personal_counts(sessions) == {t.__tablename__: 0 for t in PERSONAL_TABLES}
    assert counters(sessions).get("data_deleted") == 1
    [progress] = chat.cmd("tiendo")
    assert "không lưu" in progress.text
    # Lessons still work afterwards, and store nothing.
    chat.press("s:vneid:2")
    assert personal_counts(sessions)["progress"] == 0


def test_delete_data_for_someone_who_never_consented(assistant, sessions, pack):
    chat = Chat(assistant, "del-2")
    chat.decline()
    [reply] = chat.cmd("xoadulieu")
    assert "không lưu dữ liệu gì" in reply.text and has_menu(reply, pack)
    assert "x:y" not in data_of([reply])
    [forced] = chat.press("x:y")  # an old confirm button
    assert "không lưu dữ liệu gì" in forced.text
    stranger = Chat(assistant, "del-3")
    [reply] = stranger.cmd("xoadulieu")  # never even said /start
    assert "không lưu dữ liệu gì" in reply.text
    assert counters(sessions).get("data_deleted") is None


# ---- resuming ------------------------------------------------------------------------------

def test_resume_after_restart(assistant, knowledge, database_url, vneid):
    chat = Chat(assistant, "resume-1")
    chat.consent_and_skip_profile()
    chat.tap("o:vneid")
    for k in range(1, 5):
        chat.tap(f"s:vneid:{k}")  # now at step 5 (index 4)

    engine = make_engine(database_url)
    try:
        restarted = Chat(Assistant(knowledge, make_sessionmaker(engine)), "resume-1")
        total = len(vneid.steps)
        [menu] = restarted.cmd("menu")
        first = menu.buttons[0][0]
        assert first.data == "s:vneid:4"
        assert f"(5/{total})" in first.label and "Học tiếp" in first.label
        [step] = restarted.tap("s:vneid:4")
        assert f"Bước 5/{total}" in step.text
        [opened] = restarted.press("o:vneid")
        assert f"Bước 5/{total}" in opened.text
        [resumed] = restarted.cmd("hoctiep")
        assert f"Bước 5/{total}" in resumed.text and resumed.edit is False
        [back] = restarted.cmd("start")
        assert "Chào mừng Lan quay lại" in back.text
        assert back.buttons[0][0].data == "s:vneid:4"
    finally:
        engine.dispose()


def test_hoctiep_without_progress_shows_menu(assistant, pack):
    chat = Chat(assistant, "resume-2")
    chat.consent_and_skip_profile()
    [menu] = chat.cmd("hoctiep")
    assert has_menu(menu, pack) and menu.buttons[0][0].data.startswith("o:")
    anonymous = Chat(assistant, "resume-3")
    anonymous.decline()
    [menu] = anonymous.cmd("hoctiep")
    assert has_menu(menu, pack)


def test_progress_after_last_step_points_to_quiz(assistant, vneid):
    chat = Chat(assistant, "prog-1")
    chat.consent_and_skip_profile()
    [before] = chat.cmd("tiendo")
    assert "chưa học" in before.text and "o:vneid" in data_of([before])
    chat.walk_course(vneid)
    [progress] = chat.press("t")
    assert f"bước {len(vneid.steps)}/{len(vneid.steps)}" in progress.text
    assert "q:vneid" in data_of([progress])


# ---- robustness ----------------------------------------------------------------------------

MALFORMED = ["s:vneid:x", "qa:vneid:1:2", "s:", "", "o:khong-co", "zz:1", "q:khong-co", "s:khong-co:1",
             "s:vneid", "qa:vneid:0:99:0:0", "qa:vneid:0:0:9:0", "qa:khong-co:0:0:0:0", "pv:x",
             "v:khong-co", "g:khong-co", "a:khong-co", "ps:zz", ":::",
             # Digits that str.isdigit() accepts but int() does not.
             "s:vneid:²", "pv:²", "qa:vneid:0:²:0:0",
             "x"]
# A resident who consented has no quiz attempt with these ids (beyond what an INTEGER
# column holds): the answer is refused like any stale button.
HUGE_ATTEMPTS = ["qa:vneid:4294967296:0:0:0", "qa:vneid:99999999999999999999:0:0:0"]
PROFILE_PREFIXES = {"pv", "v", "g", "a"}


@pytest.mark.parametrize("consented", [True, False], ids=["consented", "declined"])
def test_malformed_input_gets_a_friendly_menu(assistant, pack, consented):
    chat = Chat(assistant, f"robust-{consented}")
    chat.consent_and_skip_profile() if consented else chat.decline()
    inputs = [Incoming.command("khongco"), Incoming.command("x" * 200), Incoming.message("x" * 5000),
              Incoming.message("Xin chào, VNeID là gì?"), Incoming.message("")]
    inputs += [Incoming.button(d) for d in MALFORMED + (HUGE_ATTEMPTS if consented else [])]
    failures = []
    for incoming in inputs:
        try:
            replies = chat.send(incoming)
        except Exception as exc:  # collect every crash, not just the first
            failures.append(f"{incoming}: {type(exc).__name__}: {exc}")
            continue
        if not replies:
            failures.append(f"{incoming}: no reply")
            continue
        reply = replies[-1]
        if consented and incoming.text.split(":")[0] in PROFILE_PREFIXES:
            # A profile answer that is not on the list asks the question again, skippable.
            ok = any(d.startswith("ps:") for d in data_of(replies))
        elif incoming.kind == "text" and reply.text.startswith("❓"):
            # A real question gets its FAQ answer, with a way back to the menu.
            ok = "m" in data_of(replies)
        else:
            ok = has_menu(reply, pack)
        if not VI_CHARS.search(reply.text) or not ok:
            failures.append(f"{incoming}: {reply.text!r} {data_of(replies)}")
    assert not failures, "\n".join(failures)
    long_reply = chat.text("y" * 5000)[0]
    assert "dài quá" in long_reply.text
    assert "/khongco" in chat.cmd("khongco")[0].text


@pytest.mark.parametrize("what", ["sticker", "photo", "voice", "location", "contact", "other"])
def test_unsupported_input_gets_a_translated_answer(assistant, pack, what):
    chat = Chat(assistant, f"unsupported-{what}")
    chat.decline()
    [reply] = chat.send(Incoming.unsupported(what))
    assert has_menu(reply, pack)
    first_line, rest = reply.text.split("\n", 1)
    source = UNSUPPORTED.get(what, "I can only read text and button taps.")
    assert first_line == translator("vi")(source)
    assert first_line != source, f"the answer to {what!r} is not translated: {first_line!r}"
    assert VI_CHARS.search(first_line) and VI_CHARS.search(rest)


def test_fuzzed_button_data_never_crashes(assistant, pack, knowledge):
    rng = random.Random(20260315)
    prefixes = ["c", "v", "g", "a", "ps", "pv", "m", "o", "s", "q", "qa", "t", "h", "x", "zz", "", "S", "qaa"]
    pool = ["", "vneid", "y", "n", "v", "g", "a", "0", "1", "3", "10", "11", "-1", "007", "4294967296",
            "99999999999999999999", knowledge.villages[0].id, pack.profile.groups[0].id,
            pack.profile.age_bands[0].id, "khong-co", " ", "²", "١", "½", "🙂", "Đ", "%s", "{0}", "\x00", "x" * 20]

    numbers = ["0", "1", "3", "9", "10", "11", "-1", "", "4294967296", "99999999999999999999", "²", "١"]
    arity = {"c": 1, "v": 1, "g": 1, "a": 1, "ps": 1, "pv": 1, "o": 1, "s": 2, "q": 1, "qa": 5, "x": 1}

    def part() -> str:
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(pool)
        if roll < 0.8:
            return str(rng.randint(0, 12))
        return "".join(rng.choice("abc019:_-đ") for _ in range(rng.randint(0, 6)))

    def well_shaped(prefix: str) -> list[str]:
        """Parts of the right number and kind for the prefix, with odd values among them."""
        n = arity.get(prefix, 0)
        if prefix in ("s", "qa", "q", "o"):
            course = [rng.choice(["vneid", "vneid", "khong-co", ""])]
            return course + [rng.choice(numbers) if rng.random() < 0.5 else str(rng.randint(0, 11))
                             for _ in range(n - 1)]
        if prefix == "pv":
            return [rng.choice(numbers)]
        return [part() for _ in range(n)]

    consented = Chat(assistant, "fuzz-yes")
    consented.consent_and_skip_profile()
    consented.press("q:vneid")  # an attempt of its own for the "qa" data to hit
    declined = Chat(assistant, "fuzz-no")
    declined.decline()
    failures = []
    for i in range(300):
        prefix = rng.choice(prefixes)
        parts = well_shaped(prefix) if i % 2 else [part() for _ in range(rng.randint(0, 6))]
        data = ":".join([prefix] + parts)[:64]
        for chat in (consented, declined):
            try:
                replies = chat.press(data)
            except Exception as exc:
                failures.append(f"{chat.contact.external_id} {data!r}: {type(exc).__name__}: {exc}")
                continue
            if not replies and not data.startswith("qa:"):
                # Only a stale answer to one's own quiz may be silently ignored.
                failures.append(f"{chat.contact.external_id} {data!r}: no reply")
        if prefix in ("c", "x"):
            consented.press("c:y")  # "c:<anything>" withdraws, "x:y" deletes: consent again
            declined.press("c:n")
    assert not failures, f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:15])


def test_limits_across_a_full_journey(assistant, vneid):
    chat = Chat(assistant, "limits-1", "L" * 200)  # a very long first name is cut, not fatal
    chat.cmd("start")
    chat.tap("c:y")
    chat.tap(f"v:{assistant.knowledge.villages[-1].id}")
    chat.tap("ps:g")
    chat.tap("ps:a")
    chat.walk_course(vneid)
    chat.take_quiz(vneid, right=False)
    chat.take_quiz(vneid, right=True)
    chat.cmd("tiendo")
    chat.cmd("trogiup")
    chat.cmd("xoadulieu")
    chat.tap("x:y")
    assert len(chat.log) > 50
    for reply in chat.log:
        assert len(reply.text) <= 4096
        for row in reply.buttons:
            for button in row:
                assert len(button.data.encode("utf-8")) <= CALLBACK_DATA_MAX
    check_reply_limits(chat.log)


# ---- threads ---------------------------------------------------------------------------------

def test_twenty_residents_in_parallel_threads(assistant, sessions, vneid):
    barrier = threading.Barrier(20)
    errors: list[str] = []
    results: dict[int, str] = {}

    def journey(i: int) -> None:
        try:
            chat = Chat(assistant, f"thread-{i}", f"Người {i}")
            barrier.wait(timeout=30)
            if i % 2 == 0:
                chat.consent_and_skip_profile()
            else:
                chat.decline()
            chat.walk_course(vneid)
            results[i] = chat.take_quiz(vneid, right=True)[-1].text
            chat.cmd("tiendo")
        except Exception as exc:  # reported below, with the thread
            errors.append(f"thread {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=journey, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, "\n".join(errors)
    assert len(results) == 20
    n = len(vneid.quiz.questions)
    assert all(f"đúng {n}/{n} câu" in text for text in results.values())
    assert count(sessions, Resident) == 10
    assert count(sessions, Completion, best_percent=100) == 10
    assert count(sessions, Progress, step_index=len(vneid.steps) - 1) == 10
    assert count(sessions, QuizAnswer) == 10 * n
    seen = counters(sessions)
    assert seen["consent_no"] == 10 and seen["quiz_pass:vneid"] == 10 and seen["course_open:vneid"] == 10
