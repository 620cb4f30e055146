"""Leadership comes back: a process that loses the connection holding the leader lock keeps
trying to lead again, and /healthz fails while no process leads."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.assistant import Assistant
from bot.db import make_engine, make_sessionmaker
from bot.leader import LOCK_KEY
from bot.web import create_app
from tests.conftest import POSTGRES_URL
from tests.http_helpers import serving
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="leadership is a PostgreSQL deployment's (SQLite has one "
                                                          "server, see test_serve_process); CI sets the URL")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def fast(app) -> None:
    """Seconds instead of tens: the same code paths, on a test's time scale."""
    app.state.leader.retry_seconds = 0.2
    app.state.leader.takeover_seconds = 2.0


def health(client) -> tuple[int, dict]:
    answer = client.get("/healthz")
    return answer.status_code, answer.json()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_losing_the_lock_connection_then_leading_again(settings_for, assistant, engine):
    app = create_app(settings_for(), assistant)
    fast(app)
    with serving(app) as client:
        wait_for(lambda: health(client)[1]["leader"], 10, "the process to lead")
        # The connection that holds the lock dies (a restarted pooler, a killed backend).
        with engine.connect() as admin:
            killed = admin.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :key AND objid = hashtext(current_schema())::oid"), {"key": LOCK_KEY}).scalars().all()
            admin.commit()
        assert killed == [True]
        leader = app.state.leader
        wait_for(lambda: leader.terms == 2, 10, "the process to lead again")
        assert leader.scheduler is not None and leader.scheduler.running
        status, body = health(client)
        assert status == 200 and body["ok"] is True


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_health_fails_while_nobody_leads_and_recovers(settings_for, knowledge, database_url):
    target = make_url(database_url)
    proxy = TcpProxy(target.host, target.port or 5432).start()
    proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(proxied)
    app = create_app(settings_for(HOCVUSO_DATABASE_URL=proxied), Assistant(knowledge, make_sessionmaker(engine)))
    fast(app)
    try:
        with serving(app) as client:
            wait_for(lambda: health(client)[1]["leader"], 10, "the process to lead")
            proxy.cut()   # the database is gone for this process

            def nobody_leads() -> dict | None:
                status, body = health(client)
                said = any("no process has run the scheduler" in p for p in body["problems"])
                return body if status == 503 and said and not body["leader"] else None

            assert wait_for(nobody_leads, 15, "/healthz to say that nobody leads")["ok"] is False
            proxy.restore()
            wait_for(lambda: health(client)[0] == 200, 15, "health to come back")
            assert health(client)[1]["leader"] is True
            assert app.state.leader.scheduler.running
    finally:
        engine.dispose()
        proxy.stop()
