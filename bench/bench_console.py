"""The console's overview (dashboard) with 100,000 residents, over real HTTP, per backend.

Goal (requirements): the dashboard with 100,000 residents renders in at most 1 s. Builds the
same database as bench/bench_report.py (its `load`: 100,000 residents, their progress and
completions; SQLite in a temp dir, and PostgreSQL in a schema of its own when
HOCVUSO_TEST_POSTGRES_URL is set), then serves the real app (bot.web.create_app with the
Assistant that `hocvuso serve` builds; no messenger token, so no channel starts) with uvicorn
in a thread, signs in like a browser (the sign-in form, its hidden login_token, the cookie)
and times, over ROUNDS rounds after one warm-up, each round in turn:

- GET /admin as an admin: the whole commune's dashboard, the whole HTML page;
- the baseline, in the same run: GET /api/v1/reports/progress?format=json for the same scope
  (from 2020-01-01, console.dashboard.SINCE, to today in the commune), with an admin API token;
- the same two for one village (a village official's account and a village-scoped query), for
  information.

The figures must agree: the dashboard's four headline numbers (parsed from the HTML) and, in
process, console.dashboard.dashboard()'s total and village lines against the JSON report's; if
they do not, the script exits non-zero. Prints median and max per measurement, the ratio
dashboard / JSON report (medians), the page's size, and the goal, judged on the slowest round
of the whole-commune dashboard.

Before serving, every resident's last_reminded_at is set to now: the state of a server that has
been running (it reminds each idle resident at most weekly). Otherwise the reminder sweep of
the app's own scheduler (every 10 minutes, 08:00-20:59 in the commune) would queue tens of
thousands of first-ever reminders during the measurement, in the same process.

`--profile` also runs the whole-commune page in process under cProfile (the page's data, then
the template) and prints where the time goes.

    .venv/bin/python bench/bench_console.py
    HOCVUSO_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_console.py
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import gzip
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin_api.deps import hash_token, new_token  # noqa: E402
from bench.bench_report import RESIDENTS, load  # noqa: E402
from bench.schemas import postgres_schema  # noqa: E402
from bot.cli import build_assistant  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import load_knowledge  # noqa: E402
from bot.models import AdminToken, Resident  # noqa: E402
from bot.web import create_app  # noqa: E402
from console.dashboard import SINCE, dashboard  # noqa: E402
from console.security import create_user  # noqa: E402
from tests.background_server import serve_in_thread  # noqa: E402

ROUNDS = 5
GOAL_S = 1.0
PASSWORD = "bench-console-password"
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
BIG = re.compile(r'<span class="big">([^<]*)</span>')
HEADLINE = ("registered", "courses_completed", "basic_skills", "certified")   # the four cards, in order


# --- the app and its officials ------------------------------------------------------------------

def accounts(sessions, village: str) -> str:
    """A commune admin and a village official for the console, and an admin API token (returned)."""
    token = new_token()
    with sessions() as session:
        create_user(session, "bench-admin", PASSWORD, "admin", None)
        create_user(session, "bench-village", PASSWORD, "village", village)
        session.add(AdminToken(name="bench", token_hash=hash_token(token), role="admin", village_id=None))
        # Reminded today, as on a server that has been running (see the module's docstring).
        session.execute(update(Resident).values(last_reminded_at=datetime.now(timezone.utc)))
        session.commit()
    return token


def signed_in(base_url: str, username: str) -> httpx.Client:
    """A client that signed in like a browser: the form, its hidden token, the cookie."""
    client = httpx.Client(base_url=base_url, timeout=60)
    form = client.get("/admin/login")
    form.raise_for_status()
    token = LOGIN_TOKEN.search(form.text).group(1)
    done = client.post("/admin/login", data={"username": username, "password": PASSWORD, "login_token": token,
                                             "next": "/admin"})
    if done.status_code != 303 or done.headers.get("location") != "/admin":
        raise SystemExit(f"sign-in as {username} failed: {done.status_code} {done.text[:200]}")
    return client


# --- measuring ----------------------------------------------------------------------------------

def get(client: httpx.Client, path: str, **params) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"GET {path} {params}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def line(name: str, times: list[float]) -> str:
    return f"  {name:<34} median {statistics.median(times) * 1000:8.1f} ms   max {max(times) * 1000:8.1f} ms"


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def headline(html: str) -> dict[str, int]:
    """The four big numbers of the overview (the console writes 12.345 for 12,345)."""
    numbers = BIG.findall(html)
    if len(numbers) != len(HEADLINE):
        raise SystemExit(f"the overview shows {len(numbers)} headline numbers, expected {len(HEADLINE)}")
    return {name: int(n.replace(".", "")) for name, n in zip(HEADLINE, numbers)}


def json_figures(row: dict) -> dict[str, int]:
    return {"registered": row["registered"], "courses_completed": row["courses_completed"],
            "basic_skills": (row.get("basic_skills") or {}).get("count", 0),
            "certified": (row.get("certified") or {}).get("count", 0)}


def line_figures(line_) -> dict[str, int]:
    return {"registered": line_.registered, "courses_completed": line_.courses_completed,
            "basic_skills": line_.basic_skills.count, "certified": line_.certified.count}


def compare(what: str, got: dict[str, int], expected: dict[str, int]) -> list[str]:
    return [f"{what}: {name} dashboard {got[name]:,} != JSON report {expected[name]:,}"
            for name in expected if got[name] != expected[name]]


def profile_page(app, sessions, knowledge, commune: str, tz: ZoneInfo, cookie: str) -> str:
    """The whole-commune overview in process, its route's own function under cProfile (the
    figures, then the template), without the HTTP around it."""
    from starlette.requests import Request

    from console.pages.overview import overview
    from console.security import find_session, utcnow

    scope = {"type": "http", "method": "GET", "path": "/admin", "root_path": "", "query_string": b"",
             "headers": [], "scheme": "http", "server": ("127.0.0.1", 80), "app": app}
    today = datetime.now(tz).date()

    def page():
        with sessions() as session:
            official = find_session(session, cookie, utcnow())
            return overview(Request(scope), official, session)

    page()                                                        # warm
    with sessions() as session:
        start = time.perf_counter()
        dashboard(session, knowledge, commune, tz, today, None)
        data_s = time.perf_counter() - start
    start = time.perf_counter()
    page()
    page_s = time.perf_counter() - start
    profiler = cProfile.Profile()
    profiler.runcall(page)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return "\n".join([f"  in process: the whole page {page_s * 1000:.1f} ms, of which dashboard() (the figures) "
                      f"{data_s * 1000:.1f} ms; cProfile of the page:",
                      *("    " + s for s in out.getvalue().splitlines() if s.strip())])


def run(backend: str, url: str, knowledge, profile: bool) -> tuple[bool, bool]:
    """Measures one backend and prints its figures; (figures agree, goal met)."""
    pack = knowledge.pack("vi")
    commune = pack.assistant.commune_name
    village = knowledge.villages[0].id
    setup, rows = load(url, knowledge, backend)
    settings = Settings(HOCVUSO_DATABASE_URL=url, HOCVUSO_KNOWLEDGE_DIR=str(ROOT / "knowledge"),
                        TELEGRAM_BOT_TOKEN=None, ZALO_BOT_TOKEN=None, HOCVUSO_ADMIN_TOKEN=None)
    tz = ZoneInfo(settings.timezone)
    assistant = build_assistant(settings, knowledge)     # as `hocvuso serve` builds it
    token = accounts(assistant.sessions, village)
    app = create_app(settings, assistant)
    gc.collect()
    gc.freeze()                                          # as `hocvuso serve` does
    server, thread, port = serve_in_thread(app, f"bench-console-{backend}")
    base = f"http://127.0.0.1:{port}"
    admin, official = signed_in(base, "bench-admin"), signed_in(base, "bench-village")
    api = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})
    report = "/api/v1/reports/progress"

    def so_far() -> dict[str, str]:     # the dashboard's scope: from SINCE to today in the commune
        return {"format": "json", "from": SINCE.isoformat(), "to": datetime.now(tz).date().isoformat()}

    measures = {
        "dashboard, whole commune": lambda: get(admin, "/admin"),
        "JSON report, whole commune": lambda: get(api, report, **so_far()),
        "dashboard, one village": lambda: get(official, "/admin"),
        "JSON report, one village": lambda: get(api, report, village=village, **so_far()),
    }
    times: dict[str, list[float]] = {name: [] for name in measures}
    last: dict[str, httpx.Response] = {}
    profiled = None
    try:
        for name, fn in measures.items():            # one warm-up each, not counted
            fn()
        for _ in range(ROUNDS):                      # alternating, so drift hits all alike
            for name, fn in measures.items():
                elapsed, last[name] = fn()
                times[name].append(elapsed)
        with assistant.sessions() as session:
            today = datetime.now(tz).date()
            board = dashboard(session, knowledge, commune, tz, today, None)
            village_board = dashboard(session, knowledge, commune, tz, today, village)
        if profile:
            profiled = profile_page(app, assistant.sessions, knowledge, commune, tz, admin.cookies.get("hvs_console"))
    finally:
        for client in (admin, official, api):
            client.close()
        server.should_exit = True
        thread.join(timeout=30)
        gc.unfreeze()
        assistant.sessions.kw["bind"].dispose()

    whole_json = last["JSON report, whole commune"].json()
    village_json = last["JSON report, one village"].json()
    wrong = compare("whole commune, page", headline(last["dashboard, whole commune"].text),
                    json_figures(whole_json["total"]))
    wrong += compare("whole commune, dashboard()", line_figures(board.total), json_figures(whole_json["total"]))
    by_id = {row["id"]: row for row in whole_json["villages"] if row["id"] is not None}
    if {v.id for v in board.lines} != set(by_id):
        wrong.append(f"villages: dashboard {sorted(v.id for v in board.lines)} != JSON report {sorted(by_id)}")
    for village_line in board.lines:
        if village_line.id in by_id:
            wrong += compare(f"village {village_line.id}, dashboard()", line_figures(village_line),
                             json_figures(by_id[village_line.id]))
    wrong += compare(f"village {village}, page", headline(last["dashboard, one village"].text),
                     json_figures(village_json["total"]))
    wrong += compare(f"village {village}, dashboard()", line_figures(village_board.total),
                     json_figures(village_json["total"]))

    page = last["dashboard, whole commune"].content
    worst = max(times["dashboard, whole commune"])
    print(f"\n{backend}: {rows['residents']:,} residents, {rows['progress']:,} progress rows, "
          f"{rows['completions']:,} completions")
    print(f"  setup (migrate, seed, generate, bulk insert): {setup:.1f} s")
    print(f"  GET over HTTP (uvicorn in a thread), {ROUNDS} rounds after one warm-up, alternating; "
          f"scope from {SINCE} to today ({tz.key}); one village = {village}")
    for name in measures:
        print(line(name, times[name]))
    ratio = {scope: statistics.median(times[f"dashboard, {scope}"]) / statistics.median(times[f"JSON report, {scope}"])
             for scope in ("whole commune", "one village")}
    print(f"  ratio dashboard / JSON report (medians): whole commune {ratio['whole commune']:.2f}, "
          f"one village {ratio['one village']:.2f}")
    print(f"  page size: whole commune {kb(len(page))} HTML ({kb(len(gzip.compress(page)))} gzipped, as the "
          f"app sends it), one village {kb(len(last['dashboard, one village'].content))}; "
          f"JSON report {kb(len(last['JSON report, whole commune'].content))}")
    t = board.total
    print(f"  totals: residents reached {t.registered:,}, courses finished {t.courses_completed:,}, "
          f"basic skills (adults) {t.basic_skills.count:,}, VNeID self-reported (adults) {t.certified.count:,}")
    if wrong:
        print(f"  dashboard and JSON report DISAGREE ({len(wrong)} figures):")
        for item in wrong[:20]:
            print(f"    {item}")
    else:
        print("  dashboard and JSON report agree: yes (the page's headline numbers and dashboard()'s total "
              "and every village line, whole commune and one village)")
    if profiled:
        print(profiled)
    met = worst <= GOAL_S
    print(f"goal: dashboard <= 1 s with 100,000 residents (slowest round {worst * 1000:.0f} ms): "
          f"{'PASS' if met else 'FAIL'}")
    return not wrong, met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true",
                        help="also profile the whole-commune overview in process (cProfile)")
    args = parser.parse_args()
    knowledge = load_knowledge(ROOT / "knowledge")
    postgres = os.environ.get("HOCVUSO_TEST_POSTGRES_URL")
    print(f"console overview with {RESIDENTS:,} residents, on {'SQLite and PostgreSQL' if postgres else 'SQLite'}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", knowledge, args.profile))
    if postgres:
        with postgres_schema(postgres) as url:
            results.append(run("postgresql", url, knowledge, args.profile))
    agree = all(a for a, _ in results)
    met = all(m for _, m in results)
    print(f"\noverall: figures {'agree' if agree else 'DISAGREE'}; goal {'PASS' if met else 'FAIL'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
