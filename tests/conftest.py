"""Shared fixtures. Every database test runs on SQLite and, when HOCVUSO_TEST_POSTGRES_URL is
set (make test in CI sets it), on PostgreSQL too, each test in a schema of its own."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.assistant import Assistant
from bot.config import REPO_ROOT, Settings
from bot.content import load_knowledge
from bot.db import make_engine, make_sessionmaker, migrate
from tests.fakebotapi import FakeBotAPI

POSTGRES_URL = os.environ.get("HOCVUSO_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


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


@pytest.fixture
def assistant(knowledge, sessions):
    return Assistant(knowledge, sessions)


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
