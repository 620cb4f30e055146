"""The hot path, one update, as the pipeline benchmark counts it: which statements and commits a
button press costs (bot/db.py counts them for bench/bench_pipeline.py), and what was cut to get
there: statements built once, rows where objects were not needed, keyboards built once, the long
poll's updates stored as Telegram sent them."""
from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from telegram import Bot, Update

from bot import db
from bot.assistant import Assistant
from bot.channels.telegram import inbound
from bot.channels.telegram.inbound import DurableUpdateQueue, UpdatesRequest, keyboard
from bot.db import make_engine, make_sessionmaker, statement_kind
from bot.handlers.turn import Turn
from bot.models import AnonymousCounter, InboxUpdate, Progress, Resident
from bot.pacing import SendGate
from bot.replies import Button, Contact, Reply
from tests.core_helpers import TZ, Chat, data_of


@pytest.fixture
def counted(monkeypatch, tmp_path, database_url):
    """An engine whose statements are counted as HOCVUSO_BENCH_SQL_STATS asks, and a function
    returning the counts so far, asked for with SIGUSR1 as the benchmark does."""
    path = tmp_path / "sql-counts.json"
    monkeypatch.setenv(db.SQL_STATS_VARIABLE, str(path))
    monkeypatch.setattr(db, "_counts", None)
    previous = signal.getsignal(signal.SIGUSR1)
    engine = make_engine(database_url)

    def counts() -> dict[str, int]:
        path.unlink()
        os.kill(os.getpid(), signal.SIGUSR1)   # the handler runs before kill() returns to Python code
        return json.loads(path.read_text())

    assert path.exists()   # written at once: the benchmark knows this process counts
    yield engine, counts
    engine.dispose()
    signal.signal(signal.SIGUSR1, previous)


def test_a_step_press_is_five_statements_and_two_commits(counted, knowledge, qa_indexes, tmp_path):
    """Written down before the acknowledgement (one statement, one commit), then handled: marked
    processed, taken out of the inbox, the resident found, the step kept, one commit."""
    engine, counts = counted
    assistant = Assistant(knowledge, make_sessionmaker(engine), qa=qa_indexes, media_dir=tmp_path / "media")
    chat = Chat(assistant, "hot-1", platform="telegram")
    chat.consent_and_skip_profile()
    chat.cmd("menu")
    chat.tap("o:vneid")
    before = counts()
    assistant.store_update("telegram", 7, "hot-1", {"update_id": 7, "callback_query": {"data": "s:vneid:1"}})
    [step] = chat.press("s:vneid:1", update=("telegram", 7))
    after = counts()
    spent = {kind: n - before.get(kind, 0) for kind, n in after.items() if n != before.get(kind, 0)}
    assert "2/" in step.text
    commits = spent.pop("COMMIT")
    [kept] = [kind for kind in spent if kind.endswith(" progress")]   # an upsert, or an UPDATE of the row
    assert spent == {"INSERT inbox": 1, "INSERT processed_updates": 1, "DELETE inbox": 1, "SELECT residents": 1,
                     kept: 1} and commits == 2


def test_statement_kinds_name_the_table_and_never_a_value():
    assert statement_kind('SELECT residents.id, residents.language FROM residents WHERE residents.platform = ?') \
        == "SELECT residents"
    assert statement_kind("INSERT INTO inbox (source, body) VALUES (%(source)s, %(body)s) ON CONFLICT DO NOTHING") \
        == "INSERT inbox"
    assert statement_kind('UPDATE "residents" SET last_seen_at=? WHERE residents.id = ?') == "UPDATE residents"
    assert statement_kind("DELETE FROM inbox WHERE inbox.source = ?") == "DELETE inbox"
    assert statement_kind("PRAGMA journal_mode=WAL") == "PRAGMA"
    assert statement_kind("SELECT 1") == "SELECT"


def test_nothing_is_counted_without_the_setting(monkeypatch, database_url):
    monkeypatch.delenv(db.SQL_STATS_VARIABLE, raising=False)
    monkeypatch.setattr(db, "_counts", None)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    engine.dispose()
    assert db._counts is None


def test_upsert_replaces_and_adds_once_built(sessions):
    """The statement built once per shape inserts, then on a conflict replaces the named columns
    and adds to the counted ones, the same on SQLite and PostgreSQL."""
    with sessions() as session:
        first = datetime.now(timezone.utc)
        later = first + timedelta(minutes=5)
        resident = Resident(platform="terminal", external_id="ups-1", consent_at=first, consent_version="1")
        session.add(resident)
        session.flush()
        turn = Turn(session, None, Contact("terminal", "ups-1"), resident, first, TZ, {})
        for step, moment in ((2, first), (5, later)):
            turn.upsert(Progress, {"resident_id": resident.id, "course_id": "vneid", "step_index": step,
                                   "started_at": moment, "updated_at": moment},
                        ["resident_id", "course_id"], replace=("step_index", "updated_at"))
        turn.count("hot_path_test")
        turn.count("hot_path_test")
        session.commit()
    with sessions() as session:
        row = session.get(Progress, (resident.id, "vneid"))
        assert (row.step_index, row.started_at, row.updated_at) == (5, first, later)
        assert session.scalar(select(AnonymousCounter.count).where(AnonymousCounter.name == "hot_path_test")) == 2


def test_menu_and_progress_continue_the_unfinished_course(assistant, knowledge):
    """One statement now finds the course to continue: the newest begun and not completed, even
    when a course completed since is newer."""
    pack = knowledge.pack("vi")
    other = next(c for c in pack.ordered_courses if c.id != "vneid")
    chat = Chat(assistant, "hot-2")
    chat.consent_and_skip_profile()
    chat.cmd("menu")
    chat.tap("o:vneid")
    chat.tap("s:vneid:1")
    chat.tap("s:vneid:2")
    chat.walk_course(other)
    chat.take_quiz(other, right=True)
    [menu] = chat.cmd("menu")
    assert menu.buttons[0][0].data == "s:vneid:2" and "(3/" in menu.buttons[0][0].label
    [progress] = chat.cmd("tiendo")
    assert "s:vneid:2" in data_of([progress])
    assert f"«{pack.courses['vneid'].button}»" in progress.text
    [resumed] = chat.cmd("hoctiep")
    assert f"3/{len(pack.courses['vneid'].steps)}" in resumed.text


def test_a_keyboard_is_built_once_per_set_of_buttons():
    step = Reply("a", [[Button("Next", "s:vneid:2")], [Button("Menu", "m")]])
    same = Reply("b", [[Button("Next", "s:vneid:2")], [Button("Menu", "m")]])
    other = Reply("c", [[Button("Next", "s:vneid:3")], [Button("Menu", "m")]])
    link = Reply("d", [[Button("Share", url="https://t.me/bot?start=x", code="ABC-123")], [Button("Code", code="X")]])
    assert keyboard(step) is keyboard(same)
    assert keyboard(other) is not keyboard(step)
    assert keyboard(other).to_dict() == {"inline_keyboard": [[{"text": "Next", "callback_data": "s:vneid:3"}],
                                                             [{"text": "Menu", "callback_data": "m"}]]}
    assert keyboard(link).to_dict() == {"inline_keyboard": [[{"text": "Share", "url": "https://t.me/bot?start=x"}]]}
    assert keyboard(Reply("e")) is None


def _press(update_id: int, chat: int, data: str) -> dict:
    return {"update_id": update_id, "callback_query": {
        "id": str(update_id), "chat_instance": "1", "data": data,
        "from": {"id": chat, "is_bot": False, "first_name": "Lan"},
        "message": {"message_id": 3, "date": 1700000000, "text": "x", "chat": {"id": chat, "type": "private"}}}}


def _stored(sessions) -> dict[int, tuple]:
    with sessions() as session:
        return {row.update_id: (row.chat_id, row.body) for row in session.scalars(select(InboxUpdate))}


async def test_the_long_polls_updates_are_stored_as_telegram_sent_them(assistant, sessions):
    """Not turned back into a dict: the update from getUpdates' answer goes to the inbox."""
    first, second = _press(41, 5, "s:vneid:1"), _press(42, 6, "m")
    request = UpdatesRequest()
    parsed = request.parse_json_payload(json.dumps({"ok": True, "result": [first, second]}).encode())["result"]
    updates = [Update.de_json(body, Bot("1:x")) for body in parsed]
    assert parsed == [first, second]   # python-telegram-bot left the answer as it was
    queue = DurableUpdateQueue(assistant, polled=request)
    for update in updates:
        await queue.put(update)
    assert _stored(sessions) == {41: ("5", first), 42: ("6", second)}
    assert [queue.get_nowait().update_id for _ in range(2)] == [41, 42]
    # An update the poll did not bring (never so far): turned into a dict, as before.
    other = Update.de_json(_press(43, 7, "t"), Bot("1:x"))
    await queue.put(other)
    assert _stored(sessions)[43][0] == "7" and _stored(sessions)[43][1]["callback_query"]["data"] == "t"


async def test_at_most_as_many_calls_in_flight_as_connections():
    """Calls past the pool's size wait in the pacer, not inside the HTTP pool."""
    pacer = inbound.ReplyPacer(SendGate(1000), in_flight=2)
    running, most = 0, 0

    async def call():
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return True

    answers = await asyncio.gather(*(pacer.process_request(call, (), {}, "answerCallbackQuery", {}, None)
                                     for _ in range(6)))
    assert answers == [True] * 6 and most == 2


def test_a_missing_sniffio_fails_at_once_and_an_installed_one_is_left_alone(monkeypatch):
    """httpcore imports sniffio on every request: where it is not installed, that import fails
    at once instead of searching sys.path each time."""
    monkeypatch.delitem(inbound.sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(inbound.importlib.util, "find_spec", lambda name: object())
    inbound._fail_sniffio_fast()
    assert "sniffio" not in inbound.sys.modules
    monkeypatch.setattr(inbound.importlib.util, "find_spec", lambda name: None)
    inbound._fail_sniffio_fast()
    with pytest.raises(ImportError):
        import sniffio  # noqa: F401
