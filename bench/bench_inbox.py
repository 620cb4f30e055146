"""What writing every update down before it is acknowledged (bot/inbox.py) costs per update.

In one process, on SQLite (and PostgreSQL with HOCVUSO_TEST_POSTGRES_URL), alternating rounds
of the same button presses through the conversation core:
- baseline: Assistant.handle(), as before the inbox;
- with the inbox: Assistant.store_update() (the write before the acknowledgement), then
  Assistant.handle(), which also deletes the stored update.
Prints the median time per update of each and their ratio, and the SQL statements and commits
each costs per update.

    .venv/bin/python bench/bench_inbox.py [--presses 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.schemas import postgres_schema  # noqa: E402
from bot.assistant import Assistant  # noqa: E402
from bot.content import load_knowledge  # noqa: E402
from bot.db import make_engine, make_sessionmaker, migrate, statement_kind  # noqa: E402
from sqlalchemy import event  # noqa: E402
from bot.replies import Contact, Incoming  # noqa: E402

STEPS = 11   # the VNeID course


def residents(assistant: Assistant, n: int) -> list[Contact]:
    contacts = [Contact("telegram", str(900_000 + i), "Dân") for i in range(n)]
    for contact in contacts:
        assistant.handle(contact, Incoming.command("start"))
        assistant.handle(contact, Incoming.button("c:y"))
    return contacts


def run(assistant: Assistant, contacts: list[Contact], presses: int, first_id: int, inbox: bool) -> float:
    """Seconds per update for `presses` step buttons, spread over the residents."""
    start = time.perf_counter()
    for i in range(presses):
        contact = contacts[i % len(contacts)]
        update_id = first_id + i
        if inbox:
            assistant.store_update("telegram", update_id, contact.external_id,
                                   {"update_id": update_id, "callback_query": {"data": "s:vneid:1"}})
        assistant.handle(contact, Incoming.button(f"s:vneid:{i % STEPS}"), ("telegram", update_id))
    return (time.perf_counter() - start) / presses


class Counts:
    """Statements (by kind and table) and commits on an engine, while `on`."""

    def __init__(self, engine):
        self.engine, self.on, self.seen = engine, False, {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def _commit(self, conn) -> None:
        self._add("COMMIT")

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self._add(statement_kind(statement))

    def _add(self, kind: str) -> None:
        if self.on:
            self.seen[kind] = self.seen.get(kind, 0) + 1

    def per_update(self, updates: int) -> str:
        commits = self.seen.get("COMMIT", 0)
        kinds = ", ".join(f"{kind} {n / updates:.2f}" for kind, n in sorted(self.seen.items()) if kind != "COMMIT")
        return (f"{(sum(self.seen.values()) - commits) / updates:.2f} statements, {commits / updates:.2f} commits "
                f"({kinds})")


def measure(name: str, url: str, presses: int, rounds: int) -> None:
    migrate(url)
    engine = make_engine(url)
    assistant = Assistant(load_knowledge(ROOT / "knowledge"), make_sessionmaker(engine))
    contacts = residents(assistant, 50)
    baseline, with_inbox = [], []
    next_id = 1
    for _ in range(rounds):
        baseline.append(run(assistant, contacts, presses, next_id, inbox=False))
        next_id += presses
        with_inbox.append(run(assistant, contacts, presses, next_id, inbox=True))
        next_id += presses
    b, w = statistics.median(baseline), statistics.median(with_inbox)
    print(f"{name:11} handle only {1000 * b:6.3f} ms/update   store + handle {1000 * w:6.3f} ms/update   "
          f"ratio {w / b:.2f}   (+{1000 * (w - b):.3f} ms)")
    # One more pass of each, counted (apart from the timed ones: the listeners cost a little).
    for label, with_store in (("handle only", False), ("store + handle", True)):
        counts = Counts(engine)
        counts.on = True   # after the residents' consent: only the presses count
        run(assistant, contacts, presses, next_id, inbox=with_store)
        counts.close()
        next_id += presses
        print(f"{'':11} {label:15} {counts.per_update(presses)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/inbox.db", args.presses, args.rounds)
    postgres = os.environ.get("HOCVUSO_TEST_POSTGRES_URL")
    if postgres:
        with postgres_schema(postgres) as url:
            measure("PostgreSQL", url, args.presses, args.rounds)


if __name__ == "__main__":
    main()
