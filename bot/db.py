"""Engine, sessions and migrations."""
from __future__ import annotations

import atexit
import json
import os
import re
import signal
import threading
from collections import Counter
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# bench/bench_pipeline.py sets this to a file: the statements and commits of the process are
# counted there (sql_stats below). Unset, as in production, nothing is counted.
SQL_STATS_VARIABLE = "HOCVUSO_BENCH_SQL_STATS"


def make_engine(url: str, **kwargs) -> Engine:
    # hide_parameters: a failed statement's error (and so a logged traceback) must not quote
    # what residents typed or their names.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        count_statements(engine)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the web chat read while the bot writes; NORMAL sync is safe with WAL.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=10)
    # A host that does not answer must not hang start-up or /healthz for minutes.
    engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10}, **kwargs)
    count_statements(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database schema up to date (safe to run at every start)."""
    command.upgrade(alembic_config(url), "head")


# ---- counting statements for the benchmark ---------------------------------------------------
# "SELECT … FROM residents …" -> "SELECT residents": the kind and the first table named, never
# a value (parameters are bound, so statements hold no resident's data anyway).
_STATEMENT = re.compile(r"\s*(\w+)(?:.*?\b(?:FROM|INTO|UPDATE)\s+\"?(\w+))?", re.IGNORECASE | re.DOTALL)


def statement_kind(statement: str) -> str:
    match = _STATEMENT.match(statement)
    if match is None:
        return "OTHER"
    kind, table = match.group(1).upper(), match.group(2)
    if kind == "UPDATE":
        table = statement.split(None, 2)[1].strip('"') if len(statement.split(None, 2)) > 1 else None
    return f"{kind} {table}" if table else kind


_counts: Counter | None = None   # one count for the process, over all its engines
# Re-entrant: the signal handler runs in the main thread, maybe while that thread counts.
_counts_lock = threading.RLock()
_kinds: dict[str, str] = {}      # statement text -> its kind: the texts are few (compiled once)


def count_statements(engine: Engine) -> None:
    """With HOCVUSO_BENCH_SQL_STATS=<file>: count the statements (by kind and table), commits and
    rollbacks of every engine of the process, and write the counts to the file as JSON when the
    process gets SIGUSR1 (the benchmark asks before and after its load) and at exit. Unset, as
    in production, nothing is counted and no listener is attached."""
    path = os.environ.get(SQL_STATS_VARIABLE)
    if not path:
        return
    global _counts
    if _counts is None:
        _counts = Counter()
        _start_writing(path, _counts)
    counts = _counts

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        kind = _kinds.get(statement)
        if kind is None:
            kind = _kinds[statement] = statement_kind(statement)
        with _counts_lock:
            counts[kind] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn):
        with _counts_lock:
            counts["COMMIT"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(conn):
        with _counts_lock:
            counts["ROLLBACK"] += 1


def _start_writing(path: str, counts: Counter) -> None:
    def write(*_args) -> None:
        with _counts_lock:
            snapshot = dict(counts)
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(snapshot, out)
            os.replace(tmp, path)   # the benchmark never reads half a file
        except OSError:
            pass   # at exit, the benchmark's folder may be gone already: nobody reads the counts

    atexit.register(write)
    try:
        signal.signal(signal.SIGUSR1, write)
    except ValueError:
        pass   # not the main thread: the counts are written at exit only
    write()   # the file's presence tells the benchmark that this process counts
