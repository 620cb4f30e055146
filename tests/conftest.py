"""Shared fixtures. Every database test runs on SQLite and, when HOCVUSO_TEST_POSTGRES_URL is
set (make test in CI sets it), on PostgreSQL too, each test in a schema of its own."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, text

from bot.assistant import Assistant
from bot.config import REPO_ROOT, Settings
from bot.content import load_knowledge
from bot.db import make_engine, make_sessionmaker, migrate
from bot.qa import QaIndex
from tests.fakebotapi import FakeBotAPI

POSTGRES_URL = os.environ.get("HOCVUSO_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
COMMUNE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
pytest_plugins = ["tests.browser"]  # chromium, browser_page, phone_page, serve_app, ...


def pytest_addoption(parser):
    parser.addoption("--clock", metavar="HH:MM",
                     help="run the suite as if it were this time today in the commune (Asia/Ho_Chi_Minh); "
                          "the clock keeps ticking from there")


def pytest_configure(config):
    """`--clock 23:30` moves this process's wall clock (not its monotonic clock) to 23:30 today,
    commune time. The destination is given as a UTC instant, so the machine's own time zone (TZ)
    stays as it is: code that mixes the machine's date with the commune's shows up."""
    clock = config.getoption("--clock")
    if clock and os.environ.get("TEST_CLOCK_SHIFT"):
        return   # a pytest-xdist worker: it inherited the shift, and tests/clock moved its clock already
    if clock:
        local = datetime.combine(datetime.now(COMMUNE_TZ).date(), time.fromisoformat(clock), COMMUNE_TZ)
        # Processes the tests start (hocvuso serve) shift their clocks by the same amount.
        os.environ["TEST_CLOCK_SHIFT"] = str(local.timestamp() - datetime.now(COMMUNE_TZ).timestamp())
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).with_name("clock")),
                                                                 os.environ.get("PYTHONPATH")]))
        traveller = time_machine.travel(local.timestamp(), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


@pytest.fixture(scope="session")
def knowledge():
    return load_knowledge(REPO_ROOT / "knowledge")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A fresh, migrated database; the URL works for several engines and processes."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        migrate(url)
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def qa_indexes(knowledge):
    """The retrieval indexes, built once for the session (about 0.3 s each time otherwise)."""
    return {code: QaIndex(pack) for code, pack in knowledge.languages.items()}


@pytest.fixture
def assistant(knowledge, sessions, qa_indexes, tmp_path):
    return Assistant(knowledge, sessions, qa=qa_indexes, media_dir=tmp_path / "media")


@pytest.fixture
def fake_api():
    server = FakeBotAPI().start()
    yield server
    server.stop()


@pytest.fixture
def settings_for(database_url):
    """Settings as `hocvuso serve` would read them, pointed at test servers."""
    def make(**env) -> Settings:
        values = {"HOCVUSO_DATABASE_URL": database_url, "HOCVUSO_KNOWLEDGE_DIR": str(REPO_ROOT / "knowledge")}
        values.update(env)
        return Settings(**values)
    return make


def repo_path(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)


@pytest.fixture(autouse=True)
def fresh_wrong_code_budget(monkeypatch):
    """The process-wide budget of wrong share codes starts full in every test."""
    from bot import share_codes
    monkeypatch.setattr(share_codes, "wrong_codes", share_codes.WrongCodes())
