"""Memory of `hocvuso serve` with the real FAQ, after a realistic web-chat session.

Goal (issue 18): the serving process stays at most 150 MB.

Starts `hocvuso serve` (`python -m bot.cli serve`, no messenger token: the web chat only) on a
fresh SQLite database in a temp dir, with its own media folder, waits for /healthz, then drives
residents over HTTP (/chat/api/send, the web chat's endpoint): /start and consent, the profile
questions, two courses opened, steps pressed, one "🔊 Nghe" (the step read by eSpeak NG and
encoded by PyAV in both formats, so the audio code is loaded), and FREE_TEXT free-text questions
from the development sets (tests/qa/devset.yaml and residents-dev.yaml, every n-th), spread
over a few residents so that the web chat's per-session limit (60 a minute) is not hit. Then
reads VmHWM (the peak) and VmRSS (now) from /proc/<pid>/status.

Baseline, in the same run: a bare `python -c` that imports the same top-level frameworks
(fastapi, uvicorn, sqlalchemy, telegram) and idles; prints its VmHWM and VmRSS and the ratio.

`--compare DIR` also runs the project copied in DIR (e.g. `git archive HEAD | tar -x -C DIR`)
the same way, each run with its own database and media folder: what a change saves.
`--imports` prints, for this tree, what importing each heavy module adds to a fresh process that
has imported the frameworks, VmRSS and VmHWM (where the memory goes before any request).
`--where` prints, after this tree's session, its resident memory by mapping (/proc/<pid>/smaps:
each shared library, the heap and anonymous memory, where Python's objects are), and runs the
session once more under tracemalloc to print Python's allocations by source file (tracemalloc
adds its own overhead: that run's figures are for where, not how much).

    .venv/bin/python bench/bench_memory.py [--compare DIR] [--imports] [--where]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 150
FREE_TEXT = 50
RESIDENTS = 3
FRAMEWORKS = "fastapi, uvicorn, sqlalchemy, telegram"
# Modules `hocvuso serve` loads beyond the frameworks (some only on some paths), for --imports.
IMPORTS = ("numpy", "rapidfuzz", "av", "bot.media.audio", "pywebpush", "alembic.command", "psycopg", "PIL.Image",
           "console.security", "bot.qa", "bot.assistant", "bot.web")


def status(pid: int) -> dict[str, float]:
    """VmHWM and VmRSS of a process, in MB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in lines
            if line.startswith(("VmHWM:", "VmRSS:"))}


def mappings(pid: int, top: int = 20) -> list[tuple[float, str]]:
    """Resident MB by what is mapped: a shared library (by file), [heap], or anonymous memory."""
    sizes: dict[str, int] = {}
    name = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):    # a mapping's header: address range, perms, offset, dev, inode, path
            name = fields[5] if len(fields) > 5 else "[anonymous]"
            if "site-packages/" in name:
                name = name.split("site-packages/")[1]
        elif fields[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(fields[1])
    return sorted(((kb / 1024, name) for name, kb in sizes.items()), reverse=True)[:top]


# Runs `hocvuso serve` with tracemalloc on; SIGUSR2 writes its allocations by source file to the
# file named by argv[1] (as JSON: [[file, MB], ...], the largest first).
TRACED = """import json, os, runpy, signal, sys, tracemalloc
tracemalloc.start()
path = sys.argv[1]
def dump(*_):
    stats = tracemalloc.take_snapshot().statistics("filename")
    rows = [[s.traceback[0].filename, s.size / 2**20] for s in stats[:40]]
    with open(path + ".tmp", "w") as out:
        json.dump([rows, tracemalloc.get_traced_memory()[0] / 2**20], out)
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR2, dump)
sys.argv = ["hocvuso", "serve"]
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def questions() -> list[str]:
    """FREE_TEXT questions from the two development sets, every n-th, the same each run."""
    texts = []
    for name in ("devset.yaml", "residents-dev.yaml"):
        data = yaml.safe_load((ROOT / "tests" / "qa" / name).read_text(encoding="utf-8"))
        texts += [q["text"] for q in data["questions"]]
    step = max(1, len(texts) // FREE_TEXT)
    return texts[::step][:FREE_TEXT]


class Resident:
    def __init__(self, client: httpx.Client, session: str):
        self.client, self.session = client, session
        self.last: list[dict] = []

    def send(self, **body) -> list[dict]:
        while True:
            response = self.client.post("/chat/api/send", json={"session": self.session, **body}, timeout=60)
            if response.status_code == 429:   # a limit of the web chat: wait as a page would
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            self.last = response.json()["replies"]
            return self.last

    def offered(self) -> list[str]:
        return [b["data"] for reply in self.last for row in reply["buttons"] for b in row]


def session(url: str, pid: int) -> dict:
    """The residents' session over HTTP; returns what was done, and the memory after each part."""
    done = {"requests": 0, "audio": 0, "answered": 0, "parts": {}}
    asked = questions()
    with httpx.Client(base_url=url) as client:
        residents = [Resident(client, f"bench-memory-{n:02d}-0000000") for n in range(RESIDENTS)]
        for n, me in enumerate(residents):
            me.send(text="/start")
            me.send(button="c:y")
            for data in ("ps:v", "ps:g", "ps:a"):
                me.send(button=data)
            done["requests"] += 5
            if n == 0:
                courses = [d for d in me.offered() if d.startswith("o:")][:2]
                for course in courses:
                    me.send(button=course)
                    done["requests"] += 1
                    course_id = course.split(":")[1]
                    for k in range(1, 4):
                        me.send(button=f"s:{course_id}:{k}")
                        done["requests"] += 1
                done["parts"]["consent, profile, 2 courses, 6 steps"] = status(pid)
                listen = next(d for d in me.offered() if d.startswith("ls:"))
                replies = me.send(button=listen)
                done["requests"] += 1
                done["audio"] = sum(1 for r in replies if r.get("audio"))
                done["parts"]["one listen button (eSpeak NG, PyAV)"] = status(pid)
        for i, text in enumerate(asked):
            replies = residents[i % RESIDENTS].send(text=text)
            done["requests"] += 1
            done["answered"] += any(r["text"].startswith("❓ ") for r in replies)   # an FAQ answer
    done["parts"][f"{len(asked)} free-text questions"] = status(pid)
    return done


def run_serve(tree: Path, tmp: Path, name: str, where: bool = False, traced: bool = False) -> dict:
    """`hocvuso serve` from `tree` on its own database and media folder (nothing cached: the
    "Nghe" makes its sound); the session; its memory. `where`: its mappings after the session;
    `traced`: under tracemalloc, Python's allocations by file after the session."""
    tmp = tmp / str(len(list(tmp.iterdir())))
    tmp.mkdir()
    url_db = f"sqlite:///{tmp / 'serve.db'}"
    # The tree's own migrations: a compared copy may have another schema.
    subprocess.run([sys.executable, "-c", "import sys; from bot.db import migrate; migrate(sys.argv[1])", url_db],
                   cwd=tree, check=True, capture_output=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "HOCVUSO_"))}
    env.update({"HOCVUSO_DATABASE_URL": url_db, "HOCVUSO_HOST": "127.0.0.1", "HOCVUSO_PORT": str(port),
                "HOCVUSO_MEDIA_DIR": str(tmp / "media"), "HOCVUSO_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1"})
    err = (tmp / "serve.err").open("wb")
    # Run from the tree, whose `bot` package comes first on sys.path.
    command = ["-c", TRACED, str(tmp / "traced.json")] if traced else ["-m", "bot.cli", "serve"]
    process = subprocess.Popen([sys.executable, *command], cwd=tree, env=env,
                               stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    extra = {}
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{name}: hocvuso serve exited with {process.returncode}:\n"
                                 f"{(tmp / 'serve.err').read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: /healthz never answered")
            time.sleep(0.1)
        started = status(process.pid)
        done = session(url, process.pid)
        after = status(process.pid)
        if where:
            extra["mappings"] = mappings(process.pid)
        if traced:
            process.send_signal(signal.SIGUSR2)
            dumped, deadline = tmp / "traced.json", time.monotonic() + 120
            while not dumped.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name}: no tracemalloc statistics came")
                time.sleep(0.2)
            extra["files"], extra["traced"] = json.loads(dumped.read_text())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        err.close()
    return {"name": name, "started": started, "after": after, **done, **extra}


def run_baseline() -> dict[str, float]:
    """A bare python process that imports the same frameworks and idles."""
    process = subprocess.Popen([sys.executable, "-c", f"import sys, time; import {FRAMEWORKS}; "
                                "print('ready', flush=True); time.sleep(600)"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        return status(process.pid)
    finally:
        process.kill()
        process.wait()


def imports() -> None:
    """What importing each module adds to a fresh process that has imported the frameworks (the
    baseline's): VmRSS after, and VmHWM (a module may compute something big while loading)."""
    print(f"\nimporting each module after {FRAMEWORKS}, each in a fresh process (this tree):")
    code = (f"import importlib, json, sys; from pathlib import Path; import {FRAMEWORKS}\n"
            "def status():\n"
            "    lines = Path('/proc/self/status').read_text().splitlines()\n"
            "    return {l.split(':')[0]: int(l.split()[1]) / 1024 for l in lines\n"
            "            if l.startswith(('VmRSS:', 'VmHWM:'))}\n"
            "before = status(); importlib.import_module(sys.argv[1]); print(json.dumps([before, status()]))")
    for module in IMPORTS:
        out = subprocess.run([sys.executable, "-c", code, module], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"  {module:20s} (cannot import)")
            continue
        before, after = json.loads(out.stdout.splitlines()[-1])
        print(f"  {module:20s} VmRSS +{after['VmRSS'] - before['VmRSS']:5.1f} MB   "
              f"VmHWM +{after['VmHWM'] - before['VmHWM']:5.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", metavar="DIR", type=Path, help="also run the project copied in DIR")
    parser.add_argument("--imports", action="store_true", help="RSS after importing each heavy module")
    parser.add_argument("--where", action="store_true", help="memory by mapping, and by file under tracemalloc")
    args = parser.parse_args()
    runs = []
    traced = None
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        tmp = Path(name)
        baseline = run_baseline()
        runs.append(run_serve(ROOT, tmp, "this tree", where=args.where))
        if args.compare:
            runs.append(run_serve(args.compare.resolve(), tmp, f"{args.compare}"))
        if args.where:
            traced = run_serve(ROOT, tmp, "this tree, traced", traced=True)
    print(f"baseline: python importing {FRAMEWORKS}, idle: VmHWM {baseline['VmHWM']:.1f} MB, "
          f"VmRSS {baseline['VmRSS']:.1f} MB")
    for run in runs:
        hwm, rss = run["after"]["VmHWM"], run["after"]["VmRSS"]
        print(f"\nhocvuso serve ({run['name']}), real FAQ: {run['requests']} requests "
              f"({FREE_TEXT} free-text questions, {run['answered']} answered; {run['audio']} audio reply)")
        for part, seen in [("at /healthz", run["started"]), *(("after " + p, s) for p, s in run["parts"].items())]:
            print(f"  {part:44s} VmHWM {seen['VmHWM']:6.1f} MB   VmRSS {seen['VmRSS']:6.1f} MB")
        print(f"  {'after the session':44s} VmHWM {hwm:6.1f} MB   VmRSS {rss:6.1f} MB   "
              f"(goal <= {GOAL_MB} MB: {'OK' if hwm <= GOAL_MB else 'MISSED'})")
        print(f"  ratio to the baseline: VmHWM {hwm / baseline['VmHWM']:.2f}, VmRSS {rss / baseline['VmRSS']:.2f}")
    if len(runs) == 2:
        print(f"\nthis tree / {runs[1]['name']}: VmHWM {runs[0]['after']['VmHWM'] / runs[1]['after']['VmHWM']:.2f}, "
              f"VmRSS {runs[0]['after']['VmRSS'] / runs[1]['after']['VmRSS']:.2f}")
    if args.where:
        print("\nthis tree after the session, resident memory by mapping (the largest):")
        for mb, mapped in runs[0]["mappings"]:
            print(f"  {mb:6.1f} MB  {mapped}")
        print(f"\nthis tree after the session under tracemalloc ({traced['traced']:.1f} MB traced; the process "
              f"VmRSS {traced['after']['VmRSS']:.1f} MB with tracemalloc's own), Python's allocations by file:")
        for file, mb in traced["files"][:30]:
            # <frozen importlib._bootstrap_external>: the code of every module imported
            print(f"  {mb:6.1f} MB  {file.replace(str(ROOT) + '/', '')}")
    if args.imports:
        imports()


if __name__ == "__main__":
    main()
