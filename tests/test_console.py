"""The officials' console over real HTTP, on SQLite and PostgreSQL: accounts and sign-in, the
slow-down and the lock, CSRF, village scope, the pages, and a broadcast from compose to outbox."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.config import REPO_ROOT
from bot.models import AuditEntry, Broadcast, ConsoleUser, OutboxMessage, Resident, Village
from bot.web import create_app
from console import security
from console.security import SignIn, create_user
from tests.http_helpers import serving

PASSWORD = "mat-khau-du-dai-1"
VILLAGE_A, VILLAGE_B = "kv-tong-lanh", "kv-phong-ly"


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


def make_user(sessions, username: str, role: str = "admin", village: str | None = None) -> None:
    with sessions() as session:
        create_user(session, username, PASSWORD, role, village)
        session.commit()


def sign_in(client, username: str, password: str = PASSWORD):
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "login_token": hidden(form.text, "login_token"), "next": "/admin"})


@pytest.fixture
def console(settings_for, assistant):
    with serving(create_app(settings_for(), assistant)) as client:
        yield client


def test_pages_answer_once_signed_in(console, sessions):
    make_user(sessions, "can-bo-xa")
    assert console.get("/admin").status_code == 303     # not signed in: to the sign-in form
    answer = sign_in(console, "can-bo-xa")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    for path in ("/admin", "/admin/broadcasts", "/admin/broadcasts/new"):
        page = console.get(path)
        assert page.status_code == 200, (path, page.text[-500:])


def audit_actions(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_wrong_passwords_slow_down_then_lock_and_are_audited(console, sessions):
    make_user(sessions, "truong-ban")
    for _ in range(2):                                      # the first two cost nothing
        assert sign_in(console, "truong-ban", "wrong-password").status_code == 401
    slowed = sign_in(console, "truong-ban", "wrong-password")
    assert slowed.status_code == 429 and "hvs_console" not in slowed.cookies
    # While it waits, even the right password is not checked.
    assert sign_in(console, "truong-ban").status_code == 429
    for expected in (429, 429):                             # each wait passes (moved back in the database)
        with sessions() as session:
            user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "truong-ban"))
            user.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
            session.commit()
        assert sign_in(console, "truong-ban", "wrong-password").status_code == expected
    with sessions() as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "truong-ban"))
        assert user.failed_logins == 5
        assert user.locked_until - datetime.now(timezone.utc) > timedelta(minutes=14)
    assert sign_in(console, "truong-ban").status_code == 429
    actions = audit_actions(sessions)
    assert actions.count("console.sign_in_failed") == 4 and actions.count("console.locked") == 1
    assert actions.count("console.sign_in_refused") == 2
    assert "console.sign_in" not in actions
    # An unknown name is answered as a wrong password, and its text is not kept.
    assert sign_in(console, "nobody-here", "wrong-password").status_code == 401
    with sessions() as session:
        assert "nobody-here" not in str(session.scalars(select(AuditEntry.subject)).all())


def test_the_dummy_hash_is_made_at_the_first_sign_in_not_at_start(sessions, monkeypatch):
    """Hashing takes argon2's 64 MiB: a server must not pay it at every start (issue 18). An
    unknown username still costs a verification, against the hash made at the first sign-in."""
    code = ("from pathlib import Path; import console.security as s\n"
            "mem = {l.split(':')[0]: int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines()\n"
            "       if l.startswith(('VmHWM:', 'VmRSS:'))}\n"
            "print(s._dummy_hash, (mem['VmHWM'] - mem['VmRSS']) // 1024)")
    made, peak_above_now = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                                          text=True, check=True).stdout.split()
    assert made == "None" and int(peak_above_now) < 32, peak_above_now   # MB: no argon2 at import
    now = datetime.now(timezone.utc)
    verified = []
    real_verify = security._verify

    def verify(hashed: str, password: str) -> bool:
        verified.append(hashed)
        return real_verify(hashed, password)

    monkeypatch.setattr(security, "_verify", verify)
    monkeypatch.setattr(security, "_dummy_hash", None)
    with sessions() as session:
        assert security.sign_in(session, "nobody-here", "wrong-password", now) == SignIn()
    dummy = security._dummy_hash
    assert dummy.startswith("$argon2id$") and verified == [dummy]
    with sessions() as session:
        security.sign_in(session, "nobody-else", "wrong-password", now)
    assert security._dummy_hash == dummy and verified == [dummy, dummy]   # made once
    # A known username's first sign-in makes it too: the first attempt of either kind takes as long.
    make_user(sessions, "can-bo-xa")
    monkeypatch.setattr(security, "_dummy_hash", None)
    with sessions() as session:
        assert security.sign_in(session, "can-bo-xa", PASSWORD, now).user is not None
    assert security._dummy_hash is not None and security._dummy_hash != dummy


def test_session_cookie_flags_and_csrf(console, sessions):
    make_user(sessions, "can-bo-xa")
    answer = sign_in(console, "can-bo-xa")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie          # plain HTTP here; HTTPS (or a proxy saying so) adds it
    console.cookies.clear()
    form = console.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    token = hidden(form.text, "login_token")
    assert "Secure" in form.headers["set-cookie"]      # a browser sends it back over HTTPS only: by hand here
    behind_tls = console.post("/admin/login", headers={"X-Forwarded-Proto": "https", "Cookie": f"hvs_login={token}"},
                              data={"username": "can-bo-xa", "password": PASSWORD, "login_token": token})
    assert behind_tls.status_code == 303 and "Secure" in behind_tls.headers["set-cookie"]
    console.cookies.clear()
    sign_in(console, "can-bo-xa")
    page = console.get("/admin/villages")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert page.headers["content-encoding"] == "gzip"        # weak signal: pages travel compressed
    # A form posted without the session's CSRF token changes nothing.
    refused = console.post("/admin/villages/kv-tong-lanh", data={"adult_population": "500"})
    assert refused.status_code == 403
    forged = console.post("/admin/villages/kv-tong-lanh", data={"adult_population": "500", "csrf": "x" * 43})
    assert forged.status_code == 403
    saved = console.post("/admin/villages/kv-tong-lanh", data={"adult_population": "500", "households": "",
                                                              "csrf": hidden(page.text, "csrf")})
    assert saved.status_code == 303
    assert "village.update" in audit_actions(sessions)
    console.post("/admin/logout", data={"csrf": hidden(page.text, "csrf")})
    assert console.get("/admin/villages").status_code == 303     # the session is gone


def test_a_village_official_sees_only_their_village(console, sessions):
    make_user(sessions, "truong-ban", "village", VILLAGE_A)
    sign_in(console, "truong-ban")
    overview = console.get("/admin").text
    with sessions() as session:
        names = {v.id: v.name for v in session.scalars(select(Village))}
    assert names[VILLAGE_A] in overview and names[VILLAGE_B] not in overview
    compose = console.get("/admin/broadcasts/new").text
    assert names[VILLAGE_B] not in compose
    csrf = hidden(compose, "csrf")
    # Asking for the other village anyway is refused by the API's own scope check.
    refused = console.post("/admin/broadcasts/preview", data={"csrf": csrf, "text": "Họp bản",
                                                              "villages": VILLAGE_B, "when": "now"})
    assert refused.status_code == 403
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0
    report = console.get(f"/admin/reports?village={VILLAGE_B}")
    assert report.status_code == 403 and 'href="/admin/reports/file' not in report.text
    assert console.get(f"/admin/reports/file?format=xlsx&village={VILLAGE_B}").status_code == 403
    assert console.get("/admin/unanswered").status_code == 403
    assert console.post("/admin/villages/targets/save", data={"csrf": csrf}).status_code == 403


def test_broadcast_from_compose_to_the_outbox(console, sessions):
    make_user(sessions, "can-bo-xa")
    with sessions() as session:
        for n, village in enumerate((VILLAGE_A, VILLAGE_A, VILLAGE_B)):
            session.add(Resident(platform="telegram", external_id=str(5000 + n), first_name=f"N{n}", language="vi",
                                 consent_at=datetime.now(timezone.utc), consent_version="1", village_id=village))
        session.commit()
    sign_in(console, "can-bo-xa")
    csrf = hidden(console.get("/admin/broadcasts/new").text, "csrf")
    count = console.get("/admin/broadcasts/count", params={"villages": VILLAGE_A, "when": "now"})
    assert count.json()["recipients"] == 2
    form = {"csrf": csrf, "text": "Chiều nay họp bản <b>lúc 3 giờ</b>", "villages": VILLAGE_A, "when": "now",
            "courses": "vneid", "urgent": "1"}
    preview = console.post("/admin/broadcasts/preview", data=form)
    assert preview.status_code == 200
    assert "&lt;b&gt;lúc 3 giờ&lt;/b&gt;" in preview.text           # shown as typed, never as markup
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0   # a preview queues nothing
    sent = console.post("/admin/broadcasts", data=form)
    assert sent.status_code == 303
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    listing = console.get("/admin/broadcasts").text
    assert "Chiều nay họp bản" in listing


def run_cli(database_url: str, *args: str, password: str = PASSWORD):
    env = {**os.environ, "HOCVUSO_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot.cli", "admin", *args], input=password + "\n",
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT)


def test_accounts_made_on_the_command_line(console, sessions, database_url):
    made = run_cli(database_url, "create-user", "--username", "Truong-Ban-A", "--role", "village",
                   "--village", VILLAGE_A)
    assert made.returncode == 0, made.stderr
    with sessions() as session:
        user = session.scalar(select(ConsoleUser))
        assert user.username == "truong-ban-a" and PASSWORD not in user.password_hash
        assert user.password_hash.startswith("$argon2id$")
    assert sign_in(console, "truong-ban-a").status_code == 303
    # Bad arguments name the option; nothing is made.
    for args, named in ((("--username", "x", "--role", "village", "--village", "khong-co"), "--village"),
                        (("--username", "x", "--role", "village"), "--village"),
                        (("--username", "truong-ban-a", "--role", "admin"), "--username")):
        bad = run_cli(database_url, "create-user", *args)
        assert bad.returncode == 2 and named in bad.stderr, bad.stderr
    short = run_cli(database_url, "create-user", "--username", "y", "--role", "admin", password="ngan")
    assert short.returncode == 2 and "password" in short.stderr
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsoleUser)) == 1
    # A new password unlocks the account and signs it out everywhere.
    with sessions() as session:
        session.scalar(select(ConsoleUser)).locked_until = datetime.now(timezone.utc) + timedelta(minutes=15)
        session.commit()
    console.cookies.clear()
    assert sign_in(console, "truong-ban-a").status_code == 429
    renewed = run_cli(database_url, "set-password", "--username", "truong-ban-a", password="mat-khau-moi-dai-2")
    assert renewed.returncode == 0, renewed.stderr
    assert sign_in(console, "truong-ban-a", "mat-khau-moi-dai-2").status_code == 303


def test_events_are_made_edited_and_show_their_announcements(console, sessions, knowledge):
    from zoneinfo import ZoneInfo

    from bot.events import ensure_yearly_events
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    with sessions() as session:      # as the scheduler does at start-up: this year's and next year's 10/10
        ensure_yearly_events(session, knowledge, tz, datetime.now(tz).date())
    make_user(sessions, "can-bo-xa")
    make_user(sessions, "truong-ban", "village", VILLAGE_A)
    sign_in(console, "can-bo-xa")
    listing = console.get("/admin/events")
    csrf = hidden(listing.text, "csrf")
    bad = console.post("/admin/events", data={"csrf": csrf, "title": "Lớp học VNeID", "starts_at": "mai"})
    assert bad.status_code == 422 and "Ngày giờ" in bad.text
    year = datetime.now(tz).year + 1           # always ahead, whatever the date the tests run on
    made = console.post("/admin/events", data={"csrf": csrf, "title": "Lớp học VNeID", "starts_at": f"{year}-03-14T08:00",
                                                "location": "Nhà văn hoá bản", "village_id": VILLAGE_A})
    assert made.status_code == 303
    event_id = int(made.headers["location"].rsplit("#e", 1)[1])
    page = console.get("/admin/events").text
    # Its three announcements: a week before and the day before at 08:00, the morning at 07:00.
    for moment in (f"08:00 07/03/{year}", f"08:00 13/03/{year}", f"07:00 14/03/{year}"):
        assert moment in page
    edit = console.get(f"/admin/events/{event_id}")
    assert f'value="{year}-03-14T08:00"' in edit.text
    changed = console.post(f"/admin/events/{event_id}", data={"csrf": csrf, "title": "Lớp học VNeID (đổi giờ)",
                                                              "starts_at": f"{year}-03-14T14:00", "location": "",
                                                              "village_id": VILLAGE_A})
    assert changed.status_code == 303
    assert "Lớp học VNeID (đổi giờ)" in console.get("/admin/events").text
    with sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert "event.create" in actions and "event.update" in actions
    # The yearly 10/10 day comes first and cannot be deleted, only changed.
    yearly = console.get("/admin/events").text
    assert yearly.index("hằng năm") < yearly.index("Lớp học VNeID (đổi giờ)")
    # A village official reads the events but may not change them.
    console.cookies.clear()
    sign_in(console, "truong-ban")
    assert "Lớp học VNeID (đổi giờ)" in console.get("/admin/events").text
    village_csrf = hidden(console.get("/admin/events").text, "csrf")
    refused = console.post(f"/admin/events/{event_id}/delete", data={"csrf": village_csrf})
    assert refused.status_code == 403


def test_resend_to_those_who_failed_from_the_console(console, sessions):
    make_user(sessions, "can-bo-xa")
    with sessions() as session:
        for n in range(3):
            session.add(Resident(platform="telegram", external_id=str(6000 + n), first_name=f"N{n}", language="vi",
                                 consent_at=datetime.now(timezone.utc), consent_version="1", village_id=VILLAGE_A))
        session.commit()
    sign_in(console, "can-bo-xa")
    csrf = hidden(console.get("/admin/broadcasts/new").text, "csrf")
    console.post("/admin/broadcasts", data={"csrf": csrf, "text": "Họp", "when": "now", "urgent": "1"})
    with sessions() as session:
        row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        row.status, row.last_error = "failed", "Forbidden: bot was blocked <script>"
        session.commit()
    listing = console.get("/admin/broadcasts").text
    assert "Forbidden: bot was blocked &lt;script&gt;" in listing            # the reason, escaped
    broadcast_id = int(re.search(r'action="/admin/broadcasts/(\d+)/resend"', listing).group(1))
    again = console.post(f"/admin/broadcasts/{broadcast_id}/resend", data={"csrf": csrf})
    assert again.status_code == 303
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 2
        newest = session.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
        assert newest.recipients == 1
    twice = console.post(f"/admin/broadcasts/{broadcast_id + 1}/resend", data={"csrf": csrf})
    assert twice.status_code == 409                    # nothing failed in the new one: said so, not a crash
