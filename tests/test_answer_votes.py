"""👍/👎 under free-text answers and "did you mean…?" (issue 13): through the real
python-telegram-bot client and the fake Bot API; what the votes table keeps (no link to the
resident), its retention, and how editors read it (CLI and admin API)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Date, func, select

from bot.config import REPO_ROOT
from bot.models import AnswerVote, Base, Resident
from bot.qa import QaIndex
from bot.qa.index import Answer, Target
from tests.core_helpers import Chat, data_of
from tests.telegram_helpers import act, all_data, running_bot
from tests.test_webchat import ADMIN_TOKEN, WebResident, server  # noqa: F401  (fixture)

UP, DOWN = "👍 Đúng ý tôi", "👎 Chưa đúng"
THANKS = "Cảm ơn bạn"   # 👍: "Cảm ơn bạn!", 👎: "Cảm ơn bạn đã cho mình biết"
DID_YOU_MEAN = "Bạn muốn hỏi về...?"
FORGOTTEN_PASSWORD = "vneid-quen-mat-khau"   # two FAQ entries with distinct questions
NEW_ID_CARD = "vneid-lam-cccd-moi"
COMMUNE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def faq(knowledge):
    return {e.id: e for e in knowledge.pack("vi").faq}


def vote_rows(sessions) -> list[tuple]:
    """Sorted here: PostgreSQL's collation may order "vneid-x" and "vneid/x" otherwise."""
    with sessions() as session:
        return sorted(tuple(r) for r in session.execute(
            select(AnswerVote.answer, AnswerVote.vote, AnswerVote.question, AnswerVote.count)))


def pending(sessions, chat: int) -> tuple:
    with sessions() as session:
        return tuple(session.execute(select(Resident.asked_question, Resident.asked_answer)
                                     .where(Resident.external_id == str(chat))).one())


def vote_buttons(message) -> list[tuple[str, str]]:
    [row] = [row for row in message.buttons if row and row[0][1].startswith("vo:")]
    return row


async def say(fake, chat: int, text: str, first_name: str = "Lan"):
    await act(fake, chat, lambda: fake.send_text(chat, text, first_name=first_name))
    return fake.last(chat)


async def tap(fake, chat: int, data: str, message=None):
    await act(fake, chat, lambda: fake.press(chat, data, message.message_id if message else None))
    return fake.last(chat)


async def consent(fake, chat: int, first_name: str = "Lan") -> None:
    await act(fake, chat, lambda: fake.send_text(chat, "/start", first_name=first_name), 2)
    await act(fake, chat, lambda: fake.press(chat, "c:y", first_name=first_name), 2)


def answer_with(monkeypatch, *targets: Target, choices: bool = True) -> None:
    """The index answers every question with these targets: the retrieval is tested in
    test_qa.py; here only the dialogue around its answer is."""
    found = Answer(targets[0], 1.0, choices=list(targets) if choices else [])
    monkeypatch.setattr(QaIndex, "answer", lambda self, text: found)


# ---- through Telegram ---------------------------------------------------------------------------

async def test_votes_are_stored_once_per_answer_with_no_link_to_the_resident(fake_api, assistant, sessions,
                                                                              faq, knowledge):
    chat = 1301
    first, second = faq[FORGOTTEN_PASSWORD], faq[NEW_ID_CARD]
    async with running_bot(fake_api, assistant):
        await consent(fake_api, chat, first_name="Xuyến")
        answer = await say(fake_api, chat, f"Xuyến hỏi: {first.question}", first_name="Xuyến")
        assert answer.text.startswith(f"❓ {first.question}")
        assert vote_buttons(answer) == [(UP, f"vo:u:f:{first.id}"), (DOWN, f"vo:d:f:{first.id}")]
        assert answer.buttons[-1] == [("🏠 Menu", "m")]
        asked = pending(sessions, chat)[0]
        assert "xuyen" not in asked and "quen mat khau vneid" in asked   # as the unanswered log keeps it

        thanks = await tap(fake_api, chat, f"vo:u:f:{first.id}", answer)
        assert thanks.text.startswith(THANKS) and thanks.message_id != answer.message_id
        await tap(fake_api, chat, f"vo:u:f:{first.id}", answer)   # a second tap: thanked, not counted
        assert vote_rows(sessions) == [(first.id, "up", asked, 1)]
        assert pending(sessions, chat) == (None, None)

        # A vote on an older answer than the last one is thanked, and not counted.
        again = await say(fake_api, chat, first.question)
        other = await say(fake_api, chat, second.question)
        assert vote_buttons(other)[1] == (DOWN, f"vo:d:f:{second.id}")
        assert (await tap(fake_api, chat, f"vo:d:f:{first.id}", again)).text.startswith(THANKS)
        assert len(vote_rows(sessions)) == 1
        sorry = await tap(fake_api, chat, f"vo:d:f:{second.id}", other)
        for helper in knowledge.pack("vi").assistant.in_person_helpers:
            assert helper in sorry.text
        assert "o:vneid" in all_data(sorry)   # and the menu

    rows = vote_rows(sessions)
    assert len(rows) == 2 and rows[0][:2] == (second.id, "down") and rows[0][3] == 1
    # The table cannot say who voted, or when within the day.
    table = AnswerVote.__table__
    assert set(table.columns.keys()) == {"question", "answer", "vote", "count", "first_day", "last_day"}
    assert not table.foreign_keys
    assert all(isinstance(table.columns[c].type, Date) for c in ("first_day", "last_day"))
    assert not any(str(chat) in str(value) or "xuy" in str(value).lower() for row in rows for value in row)


async def test_a_vote_from_a_resident_who_did_not_consent_is_thanked_and_not_stored(fake_api, assistant,
                                                                                    sessions, faq):
    chat = 1302
    entry = faq[FORGOTTEN_PASSWORD]
    async with running_bot(fake_api, assistant):
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/start"), 2)
        await act(fake_api, chat, lambda: fake_api.press(chat, "c:n"))
        answer = await say(fake_api, chat, entry.question)
        assert vote_buttons(answer) == [(UP, f"vo:u:f:{entry.id}"), (DOWN, f"vo:d:f:{entry.id}")]
        assert (await tap(fake_api, chat, f"vo:u:f:{entry.id}", answer)).text.startswith(THANKS)
        assert THANKS in (await tap(fake_api, chat, f"vo:d:f:{entry.id}", answer)).text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 0
    assert vote_rows(sessions) == []


async def test_did_you_mean_offers_both_choices_and_a_choice_is_an_answer_to_vote_on(
        fake_api, assistant, sessions, faq, knowledge, monkeypatch):
    chat = 1303
    entry = faq[NEW_ID_CARD]
    course = knowledge.pack("vi").courses["vneid"]
    step = course.steps[2]
    answer_with(monkeypatch, Target("faq", entry.id), Target("step", f"vneid/{step.id}"))
    async with running_bot(fake_api, assistant):
        await consent(fake_api, chat)
        question = await say(fake_api, chat, "lam the nao de co vneid")
        assert question.text == DID_YOU_MEAN
        [[(faq_label, faq_data)], [(step_label, step_data)], menu] = question.buttons
        assert faq_label.startswith("❓ " + entry.question[:40]) and faq_data == f"f:{entry.id}"
        assert (step_label, step_data, menu) == ("📘 " + step.title, "s:vneid:2", [("🏠 Menu", "m")])
        assert pending(sessions, chat)[1] == f"{entry.id} vneid/{step.id}"

        # The step: opened in place as the "open step" button does, and votable.
        shown = await tap(fake_api, chat, "s:vneid:2", question)
        assert shown.message_id == question.message_id and step.title in shown.text
        assert vote_buttons(shown) == [(UP, "vo:u:s:vneid:2"), (DOWN, "vo:d:s:vneid:2")]
        await tap(fake_api, chat, "vo:u:s:vneid:2", shown)

        # The FAQ entry: its answer, as a related-question button shows it.
        question = await say(fake_api, chat, "lam the nao de co vneid")
        shown = await tap(fake_api, chat, f"f:{entry.id}", question)
        assert shown.text.startswith(f"❓ {entry.question}") and entry.answer.strip()[:40] in shown.text
        await tap(fake_api, chat, f"vo:d:f:{entry.id}", shown)

    assert vote_rows(sessions) == [(entry.id, "down", "lam the nao de co vneid", 1),
                                   (f"vneid/{step.id}", "up", "lam the nao de co vneid", 1)]


# ---- the conversation core ------------------------------------------------------------------------

def test_a_question_a_step_answers_gets_the_vote_row_on_the_answer_and_the_step(assistant, sessions,
                                                                                   knowledge, monkeypatch):
    step = knowledge.pack("vi").courses["vneid"].steps[4]
    answer_with(monkeypatch, Target("step", f"vneid/{step.id}"), choices=False)
    me = Chat(assistant, "votes-step")
    me.consent_and_skip_profile()
    [answer] = me.text("passcode la gi")
    assert data_of([answer]) == ["s:vneid:4", "vo:u:s:vneid:4", "vo:d:s:vneid:4", "m"]
    [opened] = me.tap("s:vneid:4")
    assert "vo:d:s:vneid:4" in data_of([opened])
    me.tap("s:vneid:5")
    assert not any(d.startswith("vo:") for d in data_of(me.last))   # only the step it got
    me.press("vo:d:s:vneid:4")
    assert vote_rows(sessions) == [(f"vneid/{step.id}", "down", "passcode la gi", 1)]


def test_forgetting_a_resident_leaves_no_pending_question(assistant, sessions, faq, monkeypatch):
    entry = faq[FORGOTTEN_PASSWORD]
    answer_with(monkeypatch, Target("faq", entry.id), choices=False)
    me = Chat(assistant, "votes-forget", first_name="Xuyến")
    me.consent_and_skip_profile()
    [answer] = me.text(f"em ten la Quang Thi Xuyen, {entry.question}")
    with sessions() as session:
        asked = session.scalar(select(Resident.asked_question))
    assert asked and "xuyen" not in asked
    me.cmd("xoadulieu")
    me.tap("x:y")
    me.last = [answer]
    assert THANKS in me.tap(f"vo:u:f:{entry.id}")[0].text
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                assert not any(asked in str(value) for value in row), table.name
    assert vote_rows(sessions) == []


def test_a_stale_or_forged_vote_button_gets_the_menu(assistant):
    me = Chat(assistant, "votes-stale")
    for data in ("vo:x:f:vneid-quen-mat-khau", "vo:u", "vo:u:s:khong-co:1", "vo:u:s:vneid:99", "vo:d:q:1"):
        [reply] = me.press(data)
        assert "cũ rồi" in reply.text


# ---- retention, and the schema on both databases ----------------------------------------------------

async def test_votes_not_seen_for_180_days_are_pruned_every_night(sessions):
    from bot.scheduler import build_scheduler, prune_answer_votes

    today = datetime.now(COMMUNE).date()   # the votes' days are the commune's, not the machine's
    with sessions() as session:
        for question, last in (("old", 181), ("recent", 179), ("asked again lately", 3)):
            session.add(AnswerVote(question=question, answer="x", vote="down", count=1,
                                   first_day=today - timedelta(days=400), last_day=today - timedelta(days=last)))
        session.commit()
    assert prune_answer_votes(sessions, "Asia/Ho_Chi_Minh", datetime.now(timezone.utc)) == 1
    with sessions() as session:
        session.add(AnswerVote(question="old again", answer="x", vote="up", count=1,
                               first_day=today - timedelta(days=200), last_day=today - timedelta(days=200)))
        session.commit()
    await build_scheduler(sessions, "Asia/Ho_Chi_Minh").get_job("prune_processed_updates").func()
    assert sorted(r[2] for r in vote_rows(sessions)) == ["asked again lately", "recent"]


def test_the_migrations_make_the_tables_the_models_describe(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


# ---- what editors see ------------------------------------------------------------------------------

def test_unanswered_cli_and_admin_api_list_the_down_voted_answers(server, database_url, faq):  # noqa: F811
    entry = faq[FORGOTTEN_PASSWORD]
    me = WebResident(server, "votes-web-0000000000")
    me.say("/start")
    me.press("c:y")
    me.say("con lon nha toi bi om bo an")
    for vote in ("d", "d", "u"):
        me.say(entry.question)
        me.press(f"vo:{vote}:f:{entry.id}")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert server.get("/api/v1/unanswered").status_code == 401
    listed = server.get("/api/v1/unanswered", headers=headers).json()
    voted, unanswered = listed
    assert voted["kind"] == "not_helpful" and voted["answer"] == entry.id
    assert (voted["count"], voted["down"], voted["up"]) == (2, 2, 1)
    assert "quen mat khau vneid" in voted["text"] and voted["last_day"] == voted["last_seen"][:10]
    assert unanswered["kind"] == "unanswered" and unanswered["count"] == 1
    assert {"text", "count", "first_seen", "last_seen"} <= set(unanswered)   # the fields clients read before
    assert unanswered["answer"] is None and unanswered["down"] is None

    env = {**os.environ, "HOCVUSO_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "unanswered"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[0] == "1" and "con lon" in lines[0]
    assert "👎" in lines[2]
    assert lines[3].split()[:2] == ["2", "1"] and lines[3].endswith(f"→ {entry.id}")
    assert voted["last_day"] in lines[3]
