"""A lost, read-only or full database is noticed: /healthz fails and says why, and requests get
a clear 503 instead of an answer whose data will be lost."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from bot.models import Broadcast, Resident
from bot.web import create_app
from tests.http_helpers import serving

ADMIN = "admin-token-for-storage-tests-0123456789"


@pytest.fixture
def client(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN}"
        yield client


@contextmanager
def every_new_connection(engine, statement: str):
    """Run `statement` on every connection the app opens from now on (the pool starts afresh)."""
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_connection.commit()
    event.listen(engine, "connect", on_connect)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


def chat(client, session: str, text: str):
    return client.post("/chat/api/send", json={"session": session, "text": text})


def test_health_is_green_on_a_working_database(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["ok"] is True and answer.json()["problems"] == []


def test_a_read_only_database_fails_health_and_answers_503(client, engine):
    """As after a fail-over to a read-only replica, or a file mounted read-only."""
    read_only = ("SET default_transaction_read_only = on" if engine.dialect.name == "postgresql"
                 else "PRAGMA query_only = ON")
    with every_new_connection(engine, read_only):
        health = client.get("/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["ok"] is False
        assert any("does not take writes" in p for p in body["problems"]), body
        answer = chat(client, "readonly-session-0001", "/start")
        chat_yes = client.post("/chat/api/send", json={"session": "readonly-session-0001", "button": "c:y"})
        assert answer.status_code == 200            # reading the lessons still works
        assert chat_yes.status_code == 503          # keeping progress cannot: said plainly
        error = chat_yes.json()["error"]
        assert error["status"] == 503 and "không lưu được" in error["message"]["vi"].lower()
    assert client.get("/healthz").status_code == 200   # and it recovers by itself


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_disk_answers_503_and_health_says_so(client, engine, sessions):
    with sessions() as session:
        session.add_all(Resident(platform="telegram", external_id=str(10_000 + i), consent_at=func.now(),
                                 consent_version="1") for i in range(3000))
        session.commit()
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    # SQLite answers "database or disk is full" (SQLITE_FULL) when a write needs a page more.
    with every_new_connection(engine, f"PRAGMA max_page_count = {pages + 2}"):
        answer = client.post("/api/v1/broadcasts", json={"text": "Họp bản tối nay", "audience": {}})
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert "đầy" in answer.json()["error"]["message"]["vi"]
        health = client.get("/healthz")
        assert health.status_code == 503
        assert any("disk is full" in p for p in health.json()["problems"])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0   # nothing half-queued


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deleted_sqlite_file_is_noticed(client, database_url):
    path = database_url.removeprefix("sqlite:///")
    assert chat(client, "deleted-file-session-1", "/start").status_code == 200
    for suffix in ("", "-wal", "-shm"):
        pathlib_path = __import__("pathlib").Path(path + suffix)
        pathlib_path.unlink(missing_ok=True)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert any("deleted or replaced" in p and path in p for p in health.json()["problems"])
    refused = chat(client, "deleted-file-session-1", "/start")
    assert refused.status_code == 503      # not an answer whose data goes into a deleted file
    assert refused.json()["error"]["status"] == 503
    page = client.get("/chat")             # the page still opens, and says kindly why nothing is kept
    assert page.status_code == 200 and "không lưu được" in page.text
