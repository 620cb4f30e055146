"""The hot queries use an index, on SQLite and PostgreSQL: every foreign key (forgetting a
resident deletes by each one), looking up who sent an update, the sender's claim, and the
windows the province-wide jobs walk (bot/fanout.py).

An empty test database would make PostgreSQL scan anyway, so sequential scans are turned off:
a plan that still scans has no index it could use."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from admin_api.audience import recipients
from admin_api.schemas import Audience
from bot.fanout import window_end
from bot.models import Base, OutboxMessage, Resident
from bot.scheduler.reminders import _due_in


def plan(session, statement) -> str:
    """The query plan, one line per step, with the statement's own parameters."""
    compiled = statement.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params)
        return "\n".join(r[0] for r in rows)
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    cursor = session.connection().connection.dbapi_connection.cursor()
    return "\n".join(r[3] for r in cursor.execute(f"EXPLAIN QUERY PLAN {compiled.string}", params))


def scans(plan_text: str, table: str) -> bool:
    """True if the plan reads the whole table, or the whole of one of its indexes, rather than
    looking rows up: SQLite says SCAN rather than SEARCH; PostgreSQL's index scans then have no
    Index Cond."""
    lines = [line.strip(" ->") for line in plan_text.splitlines()]
    if any(line.startswith((f"SCAN {table}", f"Seq Scan on {table}")) for line in lines):
        return True
    postgres_reads = [i for i, line in enumerate(lines) if " on " in line and "Scan" in line
                      and line.split(" on ")[1].split()[0] == table]
    return any(not any(("Index Cond" in line or "Recheck Cond" in line) for line in lines[i + 1:i + 3])
               for i in postgres_reads if "Bitmap Heap Scan" not in lines[i])


def first_columns_of_indexes_used(session, plan_text: str) -> set[str]:
    """PostgreSQL: the leading column of each index the plan reads. With sequential scans off, it
    may read a whole index on (a, b) for a condition on b: only a leading column is a lookup."""
    names = set(re.findall(r"Index (?:Only )?Scan (?:using|on) (\w+)", plan_text))
    return set(session.execute(text(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE c.relname = ANY(:names)"), {"names": list(names)}).scalars())


def looked_up(session, table: str, column: str) -> tuple[bool, str]:
    child = Base.metadata.tables[table]
    shown = plan(session, select(child).where(child.c[column] == 7))
    if scans(shown, table):
        return False, shown
    if session.get_bind().dialect.name == "postgresql":
        return column in first_columns_of_indexes_used(session, shown), shown
    return True, shown


FOREIGN_KEYS = sorted({(fk.parent.table.name, fk.parent.name) for table in Base.metadata.tables.values()
                       for fk in table.foreign_keys})


@pytest.mark.parametrize("table, column", FOREIGN_KEYS, ids=[f"{t}.{c}" for t, c in FOREIGN_KEYS])
def test_every_foreign_key_is_found_through_an_index(sessions, table, column):
    with sessions() as session:
        found, shown = looked_up(session, table, column)
    assert found, shown


def test_the_check_sees_a_missing_index(sessions):
    with sessions() as session:
        session.execute(text("DROP INDEX ix_event_subscriptions_resident_id"))
        found, shown = looked_up(session, "event_subscriptions", "resident_id")
        session.rollback()
    assert not found, shown


def test_the_hot_queries_use_indexes(sessions):
    now = datetime.now(timezone.utc)
    hot = {
        "residents": [select(Resident.id).where(Resident.platform == "telegram", Resident.external_id == "42"),
                      _due_in(now - timedelta(days=3), now, 1000, 2000),
                      recipients(Audience()).where(Resident.id > 1000, Resident.id <= 2000)],
        "outbox": [select(OutboxMessage.id).where(OutboxMessage.status == "queued", OutboxMessage.due_at <= now)
                   .order_by(OutboxMessage.due_at).limit(30),
                   select(OutboxMessage.id).where(OutboxMessage.dedupe_key == "reminder:7:2026-12-07")],
    }
    with sessions() as session:
        for table, statements in hot.items():
            for statement in statements:
                shown = plan(session, statement)
                assert not scans(shown, table), shown
        # A broadcast's next window: its end is found walking the primary key from `after`.
        assert window_end(session, recipients(Audience()), 0, 10) is None
        shown = plan(session, recipients(Audience()).where(Resident.id > 1000).order_by(Resident.id).limit(1))
        assert not scans(shown, "residents") and "TEMP B-TREE" not in shown, shown
