"""Which process runs the scheduler and the sender.

On SQLite there is one process, so it leads (`serve` locks the file: bot/storage.py). On PostgreSQL several `hocvuso serve` processes
may run behind a load balancer; the one holding a session-level advisory lock leads. The lock
lives as long as its connection: if the leader dies, PostgreSQL drops the lock at once and
another process takes it at its next try (every LEADER_RETRY_SECONDS). A leader whose lock
connection breaks stops leading and tries again like the others (bot/web.py, LeaderRole).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.delivery import Sender, fail_unreachable, requeue_abandoned
from bot.scheduler import build_scheduler

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels import Channel

log = logging.getLogger(__name__)

LOCK_KEY = 0x686F6376  # "hocv": one key for the scheduler and the sender
LEADER_RETRY_SECONDS = 10
# Longer than this with no process leading, and /healthz says so: a dead leader's lock is
# dropped at once and another process takes it at its next try, well within this.
TAKEOVER_SECONDS = 3 * LEADER_RETRY_SECONDS


class Leadership:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        """True if this process now leads; False if another does. Raises if the database
        cannot be reached (then nobody may be leading)."""
        if not self.postgres:
            return True
        try:
            if self._connection is None:
                self._connection = self.engine.connect()
            # Keyed by the schema too: deployments (or test workers) sharing one database in
            # schemas of their own each get their own leader.
            held = self._connection.execute(text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"),
                                            {"key": LOCK_KEY}).scalar()
            self._connection.commit()
        except Exception:
            self.release()   # a broken connection must not be reused at the next try
            raise
        if not held:
            self.release()
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


class LeaderRole:
    """The scheduler and one outbox sender per channel that can push, run by the process that
    holds the lock (Leadership). A process that loses the lock (its connection broke) stops them
    and keeps trying to lead again, as every process that does not lead does."""

    def __init__(self, settings: Settings, assistant: Assistant, channels: list[Channel]):
        self.settings, self.assistant, self.channels = settings, assistant, channels
        self.leadership = Leadership(assistant.sessions.kw["bind"])
        self.retry_seconds = LEADER_RETRY_SECONDS
        self.takeover_seconds = TAKEOVER_SECONDS
        self.scheduler = None
        self.stop_sending = asyncio.Event()
        self.sender_tasks: list[asyncio.Task] = []
        self.is_leader = False
        self.terms = 0   # how many times this process has taken the lead
        # When this process last knew that some process led (itself, or another holding the lock).
        self.leader_seen = time.monotonic()

    async def run(self) -> None:
        while True:
            try:
                held = await asyncio.to_thread(self.leadership.try_acquire)
            except Exception as exc:  # noqa: BLE001 - database unreachable: nobody may lead; try again
                log.warning("could not ask for leadership (%s); trying again in %ss", type(exc).__name__,
                            self.retry_seconds)
                held = None
            if held is False:
                self.leader_seen = time.monotonic()   # another process holds the lock
            if held:
                try:
                    await self.lead()
                    continue
                except Exception:  # noqa: BLE001 - a failed start must not end the retries
                    log.exception("could not run the scheduler and the sender")
            await asyncio.sleep(self.retry_seconds)

    async def lead(self) -> None:
        """Run the scheduler and the sender for as long as the lock is held."""
        self.is_leader = True
        self.terms += 1
        self.leader_seen = time.monotonic()
        log.info("this process runs the scheduler and the sender")
        s = self.settings
        try:
            self.scheduler = build_scheduler(self.assistant.sessions, s.timezone, self.assistant.knowledge, s.quiet,
                                             s.reminder_days)
            self.scheduler.start()
            self.stop_sending = asyncio.Event()
            # Rows a dead leader left "sending" go back in the queue once, before any sender claims.
            await asyncio.to_thread(requeue_abandoned, self.assistant.sessions)
            self.sender_tasks = [asyncio.create_task(self.send_when_ready(channel)) for channel in self.channels]
            while await asyncio.to_thread(self.leadership.still_held):
                self.leader_seen = time.monotonic()
                await self.fail_unreachable()
                await asyncio.sleep(self.retry_seconds)
            log.error("leadership lost: stopping the scheduler and the sender, then trying to lead again")
        finally:
            await self.stop()

    async def fail_unreachable(self) -> None:
        """Outbox rows for residents nothing can push to (a web chat without notifications) fail, every round."""
        try:
            await asyncio.to_thread(fail_unreachable, self.assistant.sessions)
        except Exception as exc:  # noqa: BLE001 - the database is briefly away: the next round retries
            log.warning("could not mark unreachable outbox rows (%s)", type(exc).__name__)

    async def send_when_ready(self, channel: Channel) -> None:
        """Drain the channel's share of the outbox once it is connected, at its own rate."""
        ready = asyncio.create_task(channel.ready.wait())
        stopping = asyncio.create_task(self.stop_sending.wait())
        await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        stopping.cancel()
        courier = None if self.stop_sending.is_set() else channel.courier()
        if courier is None:
            return
        await courier.start()
        try:
            sender = Sender(self.assistant.sessions, courier, self.assistant.knowledge, channel.rate,
                            gate=channel.outbox_gate())
            await sender.run(self.stop_sending, recover=False)
        finally:
            await courier.stop()

    def problem(self) -> str | None:
        """For /healthz: nobody has led for longer than a takeover takes."""
        idle = time.monotonic() - self.leader_seen
        if self.is_leader or idle <= self.takeover_seconds:
            return None
        return (f"no process has run the scheduler and the sender for {idle:.0f} s "
                f"(the database holding the leader lock is not reachable)")

    async def stop(self) -> None:
        self.stop_sending.set()
        if self.sender_tasks:
            await asyncio.gather(*self.sender_tasks, return_exceptions=True)
            self.sender_tasks = []
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        await asyncio.to_thread(self.leadership.release)
        self.is_leader = False
