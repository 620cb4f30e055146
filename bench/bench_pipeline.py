"""Throughput and latency of the full Telegram pipeline against a bare PTB echo bot.

Both bots run as their own processes against the same fake Bot API server (this
process), under the same closed-loop load: ACTIVE residents each send SCRIPT_LEN
updates, the next one only after the bot answered the previous one, as a person does.
The real bot runs `hocvuso serve` on SQLite with RESIDENTS consented residents in the
database. Prints updates/s, p50/p99 latency, peak RSS, and the ratio to the echo bot, and the
SQL statements and commits the real bot ran per update during the load (by kind and table),
counted by the bot itself (HOCVUSO_BENCH_SQL_STATS, bot/db.py).

    make bench            # or: .venv/bin/python bench/bench_pipeline.py [--active 200]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import make_engine, migrate  # noqa: E402
from bot.models import Completion, Progress, Resident  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402

STEPS = 11  # the VNeID course


def seed(url: str, residents: int) -> None:
    """Consented residents, a third of them part-way through VNeID, a tenth done."""
    migrate(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(insert(Resident), [
            {"id": i, "platform": "telegram", "external_id": str(100000 + i), "first_name": f"Dân {i}",
             "language": "vi", "consent_at": now, "consent_version": "2026-11", "active": True,
             "created_at": now, "last_seen_at": now - timedelta(days=1)} for i in range(1, residents + 1)])
        conn.execute(insert(Progress), [
            {"resident_id": i, "course_id": "vneid", "step_index": rng.randrange(STEPS),
             "started_at": now, "updated_at": now} for i in range(1, residents + 1, 3)])
        conn.execute(insert(Completion), [
            {"resident_id": i, "course_id": "vneid", "completed_at": now, "best_percent": 90}
            for i in range(1, residents + 1, 10)])
    engine.dispose()


def script(chat: int, length: int) -> list[tuple[str, str]]:
    """What one resident does: open the menu, then mostly walk steps, sometimes type."""
    rng = random.Random(chat)
    actions: list[tuple[str, str]] = [("text", "/menu")]
    step = rng.randrange(STEPS)
    while len(actions) < length:
        roll = rng.random()
        if roll < 0.75:
            step = (step + 1) % STEPS
            actions.append(("press", f"s:vneid:{step}"))
        elif roll < 0.85:
            actions.append(("text", "/tiendo"))
        else:
            actions.append(("text", "cho toi hoi cach cai vneid"))
    return actions


class ClosedLoop:
    """Releases each resident's next update when the bot has answered the previous one."""

    def __init__(self, fake: FakeBotAPI, chats: list[int], length: int):
        self.fake = fake
        self.scripts = {c: script(c, length) for c in chats}
        self.position = {c: 0 for c in chats}
        self.released: dict[int, float] = {}
        self.latencies: list[float] = []
        self.total = sum(len(s) for s in self.scripts.values())
        self.done = threading.Event()
        self.lock = threading.Lock()
        fake.on_reply = self.on_reply

    def release(self, chat: int) -> None:
        kind, value = self.scripts[chat][self.position[chat]]
        self.released[chat] = time.perf_counter()
        if kind == "text":
            self.fake.send_text(chat, value)
        else:
            self.fake.press(chat, value, message_id=self.fake.last(chat).message_id)

    def on_reply(self, chat: int, _message) -> None:
        with self.lock:
            started = self.released.pop(chat, None)
            if started is None:
                return  # an extra message for an update already counted
            self.latencies.append(time.perf_counter() - started)
            self.position[chat] += 1
            finished = self.position[chat] >= len(self.scripts[chat])
            if len(self.latencies) >= self.total:
                self.done.set()
        if not finished:
            self.release(chat)  # called in the fake server's thread, outside its lock

    def run(self, timeout: float) -> float:
        start = time.perf_counter()
        for chat in self.scripts:
            self.release(chat)
        if not self.done.wait(timeout):
            raise SystemExit(f"timed out: {len(self.latencies)}/{self.total} updates answered")
        return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_ready(proc: subprocess.Popen, fake: FakeBotAPI, url: str | None, polls_before: int = 0) -> None:
    """Until the bot answers /healthz as ready or, without one (the echo bot), polls: a poll of
    its own, after `polls_before` (an earlier round's bot polled the same fake), else the load
    would start while it is still starting, and its start-up would count in its time."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bot exited early with code {proc.returncode}")
        if url:
            try:
                if httpx.get(url, timeout=1).json().get("telegram") == "ready":
                    return
            except httpx.HTTPError:
                pass
        elif len(fake.calls_of("getUpdates")) > polls_before:
            return
        time.sleep(0.1)
    raise SystemExit("bot did not become ready")


def sql_counts(proc: subprocess.Popen, path: Path | None) -> dict[str, int] | None:
    """The bot's statement and commit counts so far (bot/db.py writes them on SIGUSR1), or None
    where it does not count them (a --compare revision from before they were counted)."""
    if path is None or not path.exists():
        return None   # never signal a process that did not install the handler: it would die
    path.unlink()
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not write its SQL counts")
        time.sleep(0.01)
    return json.loads(path.read_text())


def measure(name: str, cmd: list[str], env: dict, fake: FakeBotAPI, chats: list[int], length: int,
            health_url: str | None, profile: str | None = None, cwd: Path | None = None,
            stats: Path | None = None) -> dict:
    for chat in chats:
        fake.messages.pop(chat, None)
    if stats is not None:
        stats.unlink(missing_ok=True)
        env = dict(env, HOCVUSO_BENCH_SQL_STATS=str(stats))
    polls_before = len(fake.calls_of("getUpdates"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd)
    try:
        wait_ready(proc, fake, health_url, polls_before)
        before = sql_counts(proc, stats)
        profiler = None
        if profile and health_url:
            profiler = subprocess.Popen(["py-spy", "record", "-p", str(proc.pid), "-d", "8", "-f", "raw",
                                         "-o", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        loop = ClosedLoop(fake, chats, length)
        cpu_before, fake_before = cpu_seconds(proc.pid), time.process_time()
        elapsed = loop.run(timeout=600)
        bot_cpu = cpu_seconds(proc.pid) - cpu_before
        fake_cpu = time.process_time() - fake_before   # this process: the fake Bot API and the load
        rss = peak_rss_mb(proc.pid)
        after = sql_counts(proc, stats) if before is not None else None
        if profiler is not None:
            profiler.wait(timeout=60)  # py-spy writes its file when its duration is over
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = sorted(loop.latencies)
    return {"name": name, "updates": len(lat), "seconds": elapsed, "rate": len(lat) / elapsed,
            "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
            "rss_mb": rss, "cpu_ms": 1000 * bot_cpu / len(lat), "fake_cpu_ms": 1000 * fake_cpu / len(lat),
            "sql": None if after is None else {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=10_000, help="residents in the database")
    parser.add_argument("--active", type=int, default=200, help="residents sending at the same time")
    parser.add_argument("--length", type=int, default=20, help="updates per active resident")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median ratio counts")
    parser.add_argument("--profile", help="write a py-spy profile of the real bot to this file")
    parser.add_argument("--compare", metavar="REV",
                        help="also run hocvuso as it was at this git revision (e.g. HEAD~3), or as it is in this "
                             "folder (a copy of the project), in the same rounds: what a change costs, measured "
                             "side by side")
    args = parser.parse_args()

    fake = FakeBotAPI().start()
    chats = [100000 + i for i in range(1, args.active + 1)]  # seeded, consented residents
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "HOCVUSO_"))}
    # The fake enforces no rate limit here and the echo bot paces nothing, so hocvuso's reply
    # pacing (HOCVUSO_SEND_RATE, about Telegram's 30/s in production) is opened wide: the figure
    # is the pipeline's own cost.
    base_env.update(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, HOCVUSO_LOG_LEVEL="WARNING",
                    HOCVUSO_SEND_RATE="1000")
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        seed(url, args.residents)
        contenders = [("hocvuso full pipeline", ROOT, url)]
        if args.compare:
            contenders.append((f"hocvuso at {args.compare}", *checkout(args.compare, Path(tmp), args.residents)))
        try:
            for _ in range(args.rounds):  # alternate, so drift on the machine hits all alike
                echo = measure("echo bot (baseline)", [sys.executable, str(ROOT / "bench" / "echo_bot.py")],
                               base_env, fake, chats, args.length, None)
                results = []
                for name, tree, database in contenders:
                    port = free_port()
                    env = dict(base_env, HOCVUSO_DATABASE_URL=database, HOCVUSO_PORT=str(port))
                    results.append(measure(name, [sys.executable, "-m", "bot.cli", "serve"], env, fake, chats,
                                           args.length, f"http://127.0.0.1:{port}/healthz", args.profile, cwd=tree,
                                           stats=Path(tmp) / "sql-counts.json"))
                rounds.append((echo, *results))
        finally:
            if args.compare and not Path(args.compare).is_dir():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(tmp) / "compare")],
                               check=False, capture_output=True)
    fake.stop()
    report(args, rounds)


def checkout(revision: str, tmp: Path, residents: int) -> tuple[Path, str]:
    """The project at `revision` in a git worktree (or the copy of it in the folder `revision`),
    with a database seeded by its own code."""
    tree = Path(revision).resolve()
    if not tree.is_dir():
        tree = tmp / "compare"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True,
                       capture_output=True)
    url = f"sqlite:///{tmp}/compare.db"
    # Run from the worktree, whose `bot` package comes first on sys.path.
    subprocess.run([sys.executable, "-c", "import sys; from bench.bench_pipeline import seed; "
                    "seed(sys.argv[1], int(sys.argv[2]))", url, str(residents)], cwd=tree, check=True)
    return tree, url


def report(args, rounds: list[tuple[dict, ...]]) -> None:

    print(f"\nload: {args.active} residents x {args.length} updates, closed loop; "
          f"{args.residents} residents in the database (SQLite); {args.rounds} rounds")
    print(f"{'':28}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MB':>13}{'bot CPU ms/update':>19}"
          f"{'fake API CPU ms/update':>24}")
    for results in rounds:
        for r in results:
            print(f"{r['name']:28}{r['rate']:10.0f}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['rss_mb']:13.0f}"
                  f"{r['cpu_ms']:19.2f}{r['fake_cpu_ms']:24.2f}")
    ratios = sorted(full["rate"] / echo["rate"] for echo, full, *_ in rounds)
    ratio = statistics.median(ratios)
    rss = max(full["rss_mb"] for _, full, *_ in rounds)
    print(f"\nthroughput ratio (full / echo), per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"median throughput ratio: {ratio:.2f}   goal >= 0.50  {'OK' if ratio >= 0.5 else 'BELOW GOAL'}")
    print(f"peak RSS of the full pipeline: {rss:.0f} MB   goal <= 200 MB  {'OK' if rss <= 200 else 'ABOVE GOAL'}")
    sql_report(rounds)
    if args.compare:
        change = sorted(full["rate"] / old["rate"] for _, full, old in rounds)
        cpu = sorted(full["cpu_ms"] / old["cpu_ms"] for _, full, old in rounds)
        print(f"\nthis tree / {args.compare}: throughput {', '.join(f'{r:.2f}' for r in change)} "
              f"(median {statistics.median(change):.2f}); CPU per update {', '.join(f'{r:.2f}' for r in cpu)} "
              f"(median {statistics.median(cpu):.2f})")


def sql_report(rounds: list[tuple[dict, ...]]) -> None:
    """Statements and commits per update, over all rounds, by kind and table (background work
    during the load, the scheduler's and the sender's, included)."""
    for index in range(1, len(rounds[0])):
        measured = [results[index] for results in rounds if results[index]["sql"] is not None]
        if not measured:
            continue
        total: dict[str, int] = {}
        for r in measured:
            for kind, n in r["sql"].items():
                total[kind] = total.get(kind, 0) + n
        updates = sum(r["updates"] for r in measured)
        commits = total.pop("COMMIT", 0)
        rollbacks = total.pop("ROLLBACK", 0)
        statements = sum(total.values())
        print(f"\nSQL per update, {measured[0]['name']}: {statements / updates:.2f} statements, "
              f"{commits / updates:.2f} commits, {rollbacks / updates:.2f} rollbacks")
        by_kind: dict[str, int] = {}
        for kind, n in total.items():
            by_kind[kind.split()[0]] = by_kind.get(kind.split()[0], 0) + n
        print("  " + ", ".join(f"{kind} {n / updates:.2f}" for kind, n in sorted(by_kind.items())))
        for kind, n in sorted(total.items(), key=lambda item: -item[1]):
            if n / updates >= 0.005:
                print(f"    {kind:32}{n / updates:6.2f}")


if __name__ == "__main__":
    main()
