"""One writer at a time, in this process, on SQLite: writers queue on a lock instead of polling.

SQLite lets one connection write at a time. One that finds the database locked sleeps and
tries again, for 1, 2, 5, 10, 15, 20, 25, then 50 and 100 ms (SQLite's busy handler). While a
job writes window after window (bot/fanout.py), a resident's button press kept missing the
short gaps between them and waited 150 ms or more (bench/bench_scale.py). Here every write
transaction of the process first takes one lock, from its first INSERT, UPDATE or DELETE to its
commit or rollback: a press waits for at most the one window being written, and gets the lock
the moment it is free. PostgreSQL locks rows, not the database, and needs none of this.
"""
from __future__ import annotations

import threading

from sqlalchemy import Engine, event

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
# As long as SQLite's own busy timeout (bot/db.py): a thread that waits longer (one that holds
# the gate on another connection itself) goes on without it, and SQLite decides, as before.
WAIT = 30.0


def install(engine: Engine) -> None:
    """Gates the engine's write transactions (SQLite only; once per engine)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "write_gate", None) is not None:
        return
    gate = engine.write_gate = threading.Lock()

    def take(conn, _cursor, statement, _parameters, _context, _executemany):
        if "gated" not in conn.info and statement.lstrip()[:6].upper() in WRITES and gate.acquire(timeout=WAIT):
            conn.info["gated"] = True

    def give_back(conn):
        if conn.info.pop("gated", None):
            gate.release()

    def give_back_record(_dbapi_connection, record):
        # A connection returned to the pool without a commit or rollback event (autocommit).
        if record.info.pop("gated", None):
            gate.release()

    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine, "commit", give_back)
    event.listen(engine, "rollback", give_back)
    event.listen(engine, "checkin", give_back_record)
