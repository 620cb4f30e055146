"""Which process runs the scheduler and the sender.

On SQLite there is one process, so it leads. On PostgreSQL several `hocvuso serve` processes
may run behind a load balancer; the one holding a session-level advisory lock leads. The lock
lives as long as its connection: if the leader dies, PostgreSQL drops the lock at once and
another process takes it at its next try (every LEADER_RETRY_SECONDS).
"""
from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

LOCK_KEY = 0x686F6376  # "hocv": one key for the scheduler and the sender
LEADER_RETRY_SECONDS = 10


class Leadership:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if not self.postgres:
            return True
        if self._connection is None:
            self._connection = self.engine.connect()
        held = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
        self._connection.commit()
        if not held:
            self._connection.close()
            self._connection = None
        return bool(held)

    def still_held(self) -> bool:
        """False if the lock's connection broke (then another process may lead already)."""
        if not self.postgres:
            return True
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:  # noqa: BLE001 - any failure means the lock may be gone
            log.warning("lost the database connection that held the leader lock")
            self.release()
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()  # closing the session releases the advisory lock
            except Exception:  # noqa: BLE001
                pass
            self._connection = None
