"""The database as the operator sees it: it must exist, answer and take writes before `serve`
starts; one server per SQLite file; and while running, a full disk or a deleted file is noticed.

Every problem names HOCVUSO_DATABASE_URL and never shows a password.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, inspect, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import HealthCheck

VARIABLE = "HOCVUSO_DATABASE_URL"
LOW_DISK_BYTES = 50 * 1024 * 1024   # below this, the SQLite file's disk is reported as almost full
RECENT_FAILURE_SECONDS = 120        # a disk-full write this recent keeps /healthz red
FILE_CHECK_SECONDS = 1.0            # how often request paths look whether the SQLite file is still there


class DatabaseProblem(Exception):
    """Something the operator must fix before the server can run; the text says what."""


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def reason(exc: BaseException) -> str:
    """The driver's own words, first line only (a PostgreSQL error's later lines may quote data)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def is_disk_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    import psycopg.errors   # here, not at the top: 9 MB that a server on SQLite would carry for nothing

    return isinstance(orig, psycopg.errors.DiskFull) or (isinstance(orig, OSError) and orig.errno == errno.ENOSPC)


# PostgreSQL error classes meaning "cannot be used now", not "this statement is wrong":
# connection, read-only transaction (a replica after fail-over), insufficient resources
# (disk full), operator intervention (shutting down), system error (I/O).
UNAVAILABLE_SQLSTATES = ("08", "25006", "53", "57P", "58")


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot take this request now (down, read-only, full, locked, lost)."""
    if isinstance(exc, OperationalError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return isinstance(exc, DBAPIError) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


# ---- before starting ----------------------------------------------------------------------
def require_existing(url: str) -> None:
    """`serve` never creates a database: a missing file or an empty database means the wrong
    setting, a lost disk or a first run, and only `hocvuso migrate` may create one."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise DatabaseProblem(
            f"{VARIABLE}: there is no database file at {path}. If this is the first run, create it with "
            f"`hocvuso migrate`; if the residents' data should be there, restore it from a backup.")


def require_migrated(engine: Engine, url: str) -> None:
    if not inspect(engine).has_table("alembic_version"):
        raise DatabaseProblem(
            f"{VARIABLE}: the database {shown(url)} is empty. If this is the first run, create the tables "
            f"with `hocvuso migrate`; otherwise check that the setting names the right database.")


def prepare_folder(url: str) -> None:
    """SQLite creates the file, but not its folder; say clearly when the folder cannot be."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatabaseProblem(f"{VARIABLE}: {path.parent} is a file, not a folder") from None
    except OSError as exc:
        raise DatabaseProblem(f"{VARIABLE}: cannot create the folder {path.parent}: {exc.strerror}") from None


def unusable(url: str, exc: BaseException) -> DatabaseProblem:
    return DatabaseProblem(f"{VARIABLE}: cannot use the database {shown(url)}: {reason(exc)}")


# ---- one server per SQLite file -------------------------------------------------------------
class ServerLock:
    """An exclusive lock on '<database>.serve.lock', held for the life of `serve`. The kernel
    drops it when the process ends, even after a kill -9, so a stale file never blocks a start."""

    def __init__(self, database: Path):
        self.path = database.with_name(database.name + ".serve.lock")
        self.database = database
        self._file = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DatabaseProblem(
                f"{VARIABLE}: another `hocvuso serve` ({holder}) is already using {self.database}. "
                f"Stop it first. Several processes need PostgreSQL.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ---- while running --------------------------------------------------------------------------
@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return cls(st.st_dev, st.st_ino)


class StorageCheck:
    """What /healthz and the request paths ask: can the data still be written, and kept?"""

    def __init__(self, sessions: sessionmaker[Session], url: str):
        self.sessions = sessions
        self.path = sqlite_path(url)
        self.identity = FileIdentity.of(self.path) if self.path else None
        self._disk_full_at: float | None = None
        self._file_checked_at = 0.0
        self._file_problem: str | None = None

    def note_failure(self, exc: BaseException) -> None:
        """Called where a write failed: a full disk is remembered for /healthz."""
        if is_disk_full(exc):
            self._disk_full_at = time.monotonic()

    def file_problem(self, max_age: float = FILE_CHECK_SECONDS) -> str | None:
        """The SQLite file was deleted or replaced under the running server: what it writes now
        goes to a file nobody will open again. Checked at most every `max_age` seconds."""
        if self.path is None:
            return None
        now = time.monotonic()
        if now - self._file_checked_at >= max_age:
            self._file_checked_at = now
            current = FileIdentity.of(self.path)
            self._file_problem = None if current == self.identity else (
                f"the database file {self.path} was deleted or replaced while the server was running; "
                f"stop the server and restore the file from a backup")
        return self._file_problem

    def probe_write(self) -> None:
        with self.sessions.begin() as session:
            session.execute(update(HealthCheck).where(HealthCheck.id == 1)
                            .values(checked_at=datetime.now(timezone.utc)))

    def problems(self) -> list[str]:
        found = []
        lost = self.file_problem(max_age=0)
        if lost:
            found.append(lost)
        try:
            self.probe_write()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the database cannot take writes
            self.note_failure(exc)
            found.append(f"the database does not take writes: {reason(exc)}")
        if self._disk_full_at is not None and time.monotonic() - self._disk_full_at < RECENT_FAILURE_SECONDS:
            found.append("the database's disk is full: writes are failing")
        if self.path is not None and self.path.parent.is_dir():
            free = shutil.disk_usage(self.path.parent).free
            if free < LOW_DISK_BYTES:
                found.append(f"only {free // (1024 * 1024)} MB free on the disk of {self.path}")
        return found
