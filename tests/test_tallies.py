"""The report's monthly tallies (bot/tallies.py) equal a full count of the rows, whatever
residents did through the bot: joining, profiles, courses, quizzes, certificates, moving
their progress to another device, being forgotten; and they are rebuilt when they cannot be
trusted."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from admin_api.reports.progress import FIELDS, _bounds, _cells, _tallied_cells, progress_report
from bot.models import Completion, Progress, ReportTally, Resident, ServerKey
from bot.privacy import forget_resident
from bot.tallies import KEY_NAME, Tallies, tallies_of
from tests.core_helpers import Chat, data_of
from tests.test_progress_codes import confirm_buttons, make_code

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def periods(today: date) -> list[tuple[date, date]]:
    """Whole-month periods the tallies answer: this year so far, this month, everything."""
    return [(date(today.year, 1, 1), today), (today.replace(day=1), today), (date(2020, 1, 1), today)]


def agree(assistant, sessions, villages=(None,)) -> None:
    tallies = assistant.tallies
    today = datetime.now(TZ).date()
    with sessions() as session:
        assert tallies.ready(session)
        for period in periods(today):
            assert tallies.covers(*period, today)
            for village in villages:
                counted = _cells(session, assistant.knowledge, *_bounds(*period, TZ), village)
                tallied = _tallied_cells(tallies, session, *period, village)
                differ = {(cell, name): (tallied[cell][name], counted[cell][name]) for cell in {*tallied, *counted}
                          for name in FIELDS if tallied[cell][name] != counted[cell][name]}
                assert not differ, (period, village, differ)      # (tallied, counted)


def profile(chat: Chat) -> None:
    """Consent, then the first village, group and age band offered."""
    chat.cmd("start")
    chat.tap("c:y")
    for _ in range(3):
        chat.tap(next(d for d in data_of(chat.last) if not d.startswith("ps:")))


def test_tallies_equal_the_full_count_through_a_commune_s_journeys(assistant, sessions, knowledge):
    pack = knowledge.pack("vi")
    core = [pack.courses[c] for c in knowledge.plan.core_courses]
    chats = []
    for i, platform in enumerate(("telegram", "web", "zalo", "telegram", "web")):
        chat = Chat(assistant, f"{900 + i}", platform=platform)
        profile(chat) if i % 2 == 0 else chat.consent_and_skip_profile()
        chats.append(chat)
    agree(assistant, sessions)
    # Courses and quizzes: the first two finish every core course, the others one each.
    for i, chat in enumerate(chats):
        for course in core if i < 2 else core[:1]:
            chat.walk_course(course)
            chat.take_quiz(course, right=i != 4)     # the last one fails hers
    chats[2].cmd("menu")
    chats[2].tap(f"o:{core[-1].id}")                # started, not finished
    # Certificates reported, one taken back.
    for chat in chats[:3]:
        chat.cmd("tiendo")
        chat.tap("cert:1")
    chats[2].cmd("tiendo")
    chats[2].tap("cert:0")
    agree(assistant, sessions, villages=(None, knowledge.villages[0].id))

    # An official corrects a village, and a join date moves (as a progress-code move does).
    with sessions.begin() as session:
        first = session.scalars(select(Resident).order_by(Resident.id)).first()
        first.village_id = knowledge.villages[1].id
        first.created_at -= timedelta(days=40)
    # The web resident moves her progress to Telegram: two residents become one.
    web = chats[1]
    telegram = Chat(assistant, "70999", platform="telegram")
    profile(telegram)
    telegram.cmd("menu")
    telegram.tap(f"o:{core[0].id}")
    [question] = telegram.text(f"ma tien do {make_code(web)}")
    telegram.tap(confirm_buttons([question])[0])
    agree(assistant, sessions, villages=(None, knowledge.villages[0].id, knowledge.villages[1].id))

    # Forgotten on request: nothing of them is left in the tallies either.
    with sessions.begin() as session:
        forget_resident(session, session.scalars(select(Resident.id).order_by(Resident.id.desc())).first())
    agree(assistant, sessions)
    with sessions() as session:
        assert session.scalar(select(func.sum(ReportTally.count)).where(ReportTally.measure == "joined")) == \
               session.scalar(select(func.count()).select_from(Resident))


def test_rows_written_behind_their_back_are_counted_again_when_the_rules_change(assistant, sessions, knowledge):
    chat = Chat(assistant, "901", platform="telegram")
    profile(chat)
    now = datetime.now(timezone.utc)
    # A bulk load (as bench/ does) bypasses the flush the tallies follow.
    with sessions.begin() as session:
        session.execute(insert(Resident), [{"platform": "telegram", "external_id": str(5000 + i), "language": "vi",
                                            "consent_at": now, "consent_version": "1", "created_at": now,
                                            "last_seen_at": now} for i in range(3)])
    today = datetime.now(TZ).date()
    with sessions() as session:
        report = progress_report(session, knowledge, "x", date(today.year, 1, 1), today, TZ)
    assert report.total.registered == 1                 # the tallies do not know them yet
    assert assistant.tallies.ensure(sessions) is False  # same rules: nothing to rebuild
    with sessions.begin() as session:
        session.get(ServerKey, KEY_NAME).value = "built with other rules"
    with sessions() as session:                         # not ready: the report counts the rows
        assert progress_report(session, knowledge, "x", date(today.year, 1, 1), today, TZ).total.registered == 4
    assert assistant.tallies.ensure(sessions) is True
    agree(assistant, sessions)
    # Other core courses in knowledge/ are other rules: a different fingerprint.
    plan = knowledge.plan.model_copy(update={"core_courses": list(knowledge.plan.core_courses)[:1]})
    other = Tallies(dataclasses.replace(knowledge, plan=plan), TZ)
    assert other.fingerprint != assistant.tallies.fingerprint


def test_a_period_that_is_not_whole_months_is_counted_from_the_rows(assistant, sessions, knowledge):
    tallies = assistant.tallies
    today = date(2026, 12, 7)
    assert tallies.covers(date(2026, 1, 1), date(2026, 6, 30), today)
    assert tallies.covers(date(2024, 2, 1), date(2024, 2, 29), today)     # a leap February
    assert tallies.covers(date(2026, 12, 1), today, today)
    assert not tallies.covers(date(2026, 1, 2), date(2026, 6, 30), today)
    assert not tallies.covers(date(2026, 1, 1), date(2026, 6, 29), today)
    chat = Chat(assistant, "902", platform="telegram")
    profile(chat)
    with sessions() as session:
        assert tallies_of(session) is tallies
        now = datetime.now(TZ).date()
        report = progress_report(session, knowledge, "x", now - timedelta(days=40), now, TZ)
    assert report.total.registered == 1 and report.total.new_in_period == 1
