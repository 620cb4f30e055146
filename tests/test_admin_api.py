"""The admin API over real HTTP, on SQLite and PostgreSQL: roles and scope, broadcasts into the
outbox, villages and targets, events and their announcements, residents, and the report."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select

from admin_api.deps import hash_token
from bot.config import REPO_ROOT
from bot.models import (AdminToken, AuditEntry, Completion, Event, EventSubscription, OutboxMessage,
                        Progress, Resident)
from bot.scheduler import event_jobs
from bot.web import create_app
from tests.core_helpers import Chat, data_of
from tests.http_helpers import serving

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = "admin-token-for-tests-0123456789abcdef"
VILLAGE_A, VILLAGE_B = "kv-tong-lanh", "kv-phong-ly"
CORE = ["vneid", "an-toan-mang", "thanh-toan-so"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def make_token(sessions, role: str, village: str | None = None) -> str:
    token = f"{role}-{village or 'all'}-token"
    with sessions() as session:
        session.add(AdminToken(name=f"{role} for tests", token_hash=hash_token(token), role=role, village_id=village))
        session.commit()
    return token


@pytest.fixture
def api(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers.update(bearer(ADMIN))
        yield client


def add_resident(sessions, n: int, village: str | None, group: str | None = "nguoi-dan", age: str | None = "36-59",
                 completed: tuple[str, ...] = (), started: tuple[str, ...] = (), certified: bool = False,
                 joined: datetime | None = None, language: str = "vi") -> int:
    joined = joined or datetime(2026, 3, 1, tzinfo=timezone.utc)
    with sessions() as session:
        r = Resident(platform="telegram", external_id=str(1000 + n), first_name=f"Người {n}", language=language,
                     consent_at=joined, consent_version="1", village_id=village, group_id=group, age_band=age,
                     created_at=joined, certified_at=joined + timedelta(days=5) if certified else None)
        session.add(r)
        session.flush()
        for course in set(started) | set(completed):
            session.add(Progress(resident_id=r.id, course_id=course, step_index=0, started_at=joined + timedelta(days=1)))
        for course in completed:
            session.add(Completion(resident_id=r.id, course_id=course, best_percent=100,
                                   completed_at=joined + timedelta(days=2)))
        session.commit()
        return r.id


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["status"] == status and body["message"]["vi"] and body["message"]["en"]
    return body


# ---- auth and scope --------------------------------------------------------------------------

def test_missing_and_wrong_tokens_are_401_with_a_json_error(api):
    for headers in ({"Authorization": ""}, bearer("not-a-token")):
        response = api.get("/api/v1/reports/progress", headers=headers)
        body = error_of(response, 401)
        assert body["field"] == "Authorization"
        assert response.headers["www-authenticate"] == "Bearer"


def test_repeated_wrong_tokens_slow_down_the_address(api):
    """Guessing tokens at speed: after 10 wrong ones in a minute, the address waits (429) and
    no token is checked, not even the right one, until the minute is over."""
    for attempt in range(10):
        assert api.get("/api/v1/villages", headers=bearer(f"guess-{attempt}")).status_code == 401
    refused = api.get("/api/v1/villages", headers=bearer("guess-11"))
    body = error_of(refused, 429)
    assert body["field"] == "Authorization" and 1 <= int(refused.headers["retry-after"]) <= 60
    assert api.get("/api/v1/villages").status_code == 429     # the admin's own token waits too


def test_roles_are_enforced(api, sessions):
    viewer = make_token(sessions, "viewer")
    village = make_token(sessions, "village", VILLAGE_A)
    assert api.get("/api/v1/reports/progress", headers=bearer(viewer)).status_code == 200
    for method, path in (("GET", "/api/v1/residents"), ("POST", "/api/v1/broadcasts/preview"),
                         ("GET", "/api/v1/events"), ("GET", "/api/v1/villages")):
        response = api.request(method, path, headers=bearer(viewer), json={"text": "x"})
        assert error_of(response, 403)["field"] == "Authorization", path
    # A village token may not export, edit villages or targets, or create events.
    for method, path, body in (("GET", "/api/v1/residents/export.csv", None),
                               ("PATCH", f"/api/v1/villages/{VILLAGE_A}", {"households": 3}),
                               ("PUT", "/api/v1/targets/2026/xac-nhan-vneid", {"percent": 70}),
                               ("POST", "/api/v1/events", {"title": "Họp", "starts_at": "2030-01-01T08:00:00"})):
        assert api.request(method, path, headers=bearer(village), json=body).status_code == 403, path


def test_a_village_token_cannot_reach_another_village(api, sessions):
    mine = add_resident(sessions, 1, VILLAGE_A)
    theirs = add_resident(sessions, 2, VILLAGE_B)
    token = bearer(make_token(sessions, "village", VILLAGE_A))
    listed = api.get("/api/v1/residents", headers=token).json()
    assert [r["id"] for r in listed["items"]] == [mine] and listed["total"] == 1
    assert error_of(api.get(f"/api/v1/residents?village={VILLAGE_B}", headers=token), 403)["field"] == "village"
    assert api.get(f"/api/v1/residents/{theirs}", headers=token).status_code == 404
    assert api.delete(f"/api/v1/residents/{theirs}", headers=token).status_code == 404
    assert error_of(api.get(f"/api/v1/reports/progress?village={VILLAGE_B}", headers=token), 403)["field"] == "village"
    report = api.get("/api/v1/reports/progress", headers=token).json()
    assert [v["id"] for v in report["villages"]] == [VILLAGE_A] and report["total"]["registered"] == 1
    assert [v["id"] for v in api.get("/api/v1/villages", headers=token).json()] == [VILLAGE_A]
    assert api.get(f"/api/v1/villages/{VILLAGE_B}", headers=token).status_code == 403
    other = {"text": "Họp bản", "audience": {"villages": [VILLAGE_B]}}
    assert error_of(api.post("/api/v1/broadcasts", json=other, headers=token), 403)["field"] == "audience.villages"


def test_revoked_and_cli_made_tokens(api, sessions, database_url):
    env = {**os.environ, "HOCVUSO_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "create-token", "--role", "viewer",
                           "--name", "Phòng VH-XH"], capture_output=True, text=True, env=env, timeout=120,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert api.get("/api/v1/reports/progress", headers=bearer(token)).status_code == 200
    with sessions() as session:
        row = session.scalar(select(AdminToken).where(AdminToken.role == "viewer"))
        assert row.token_hash == hash_token(token) and token not in (row.name, row.token_hash)
        token_id = row.id
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "create-token", "--role", "village",
                          "--village", "khong-co"], capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT)
    assert bad.returncode == 2 and "khong-co" in bad.stderr
    revoked = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "revoke-token", str(token_id)],
                             capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT)
    assert revoked.returncode == 0, revoked.stderr
    assert api.get("/api/v1/reports/progress", headers=bearer(token)).status_code == 401


# ---- broadcasts ------------------------------------------------------------------------------

def test_preview_send_follow_and_cancel_a_broadcast_to_one_village(api, sessions):
    for n in range(3):
        add_resident(sessions, n, VILLAGE_A)
    add_resident(sessions, 10, VILLAGE_B)
    body = {"text": "Chủ nhật này có lớp học VNeID ở nhà văn hoá.", "courses": ["vneid"],
            "audience": {"villages": [VILLAGE_A]}, "urgent": True}
    preview = api.post("/api/v1/broadcasts/preview", json=body)
    assert preview.status_code == 200 and preview.json()["recipients"] == 3
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # a preview queues nothing
    created = api.post("/api/v1/broadcasts", json=body)
    assert created.status_code == 201, created.text
    broadcast = created.json()
    assert broadcast["recipients"] == 3 and broadcast["status"] == "queued"
    status = api.get(f"/api/v1/broadcasts/{broadcast['id']}").json()
    assert (status["queued"], status["sent"], status["failed"], status["blocked"]) == (3, 0, 0, 0)
    assert status["courses"] == ["vneid"] and status["audience"]["villages"] == [VILLAGE_A]
    cancelled = api.post(f"/api/v1/broadcasts/{broadcast['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled"] == 3 and cancelled["queued"] == 0
    assert error_of(api.post(f"/api/v1/broadcasts/{broadcast['id']}/cancel"), 409)["field"] == "broadcast_id"
    assert error_of(api.get("/api/v1/broadcasts/999999"), 404)["field"] == "broadcast_id"
    with sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["broadcast.create", "broadcast.cancel"]
        assert session.scalar(select(AuditEntry.actor)) == "HOCVUSO_ADMIN_TOKEN"


def test_send_again_to_those_who_failed(api, sessions):
    for n in range(4):
        add_resident(sessions, n, VILLAGE_A)
    first = api.post("/api/v1/broadcasts", json={"text": "Lịch tiêm chủng", "courses": ["vneid"],
                                                 "audience": {"villages": [VILLAGE_A]}, "urgent": True}).json()
    assert error_of(api.post(f"/api/v1/broadcasts/{first['id']}/resend-failed"), 409)["field"] == "broadcast_id"
    with sessions() as session:      # as the sender would leave them: 2 failed, 1 blocked the bot, 1 sent
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for row, status in zip(rows, ("failed", "failed", "blocked", "sent")):
            row.status, row.last_error = status, None if status == "sent" else "Bad Request: chat not found"
        failed = {row.resident_id for row in rows if row.status == "failed"}
        session.commit()
    again = api.post(f"/api/v1/broadcasts/{first['id']}/resend-failed")
    assert again.status_code == 201 and again.json()["recipients"] == 2
    with sessions() as session:
        queued = session.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == again.json()["id"])).all()
        assert {row.resident_id for row in queued} == failed and {row.status for row in queued} == {"queued"}
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-1] == "broadcast.resend_failed"
    status = api.get(f"/api/v1/broadcasts/{again.json()['id']}").json()
    assert status["text"] == "Lịch tiêm chủng" and status["courses"] == ["vneid"]
    village = bearer(make_token(sessions, "village", VILLAGE_B))
    assert api.post(f"/api/v1/broadcasts/{first['id']}/resend-failed", headers=village).status_code == 403


def test_a_village_token_broadcasts_to_its_own_village(api, sessions):
    add_resident(sessions, 1, VILLAGE_A)
    add_resident(sessions, 2, VILLAGE_B)
    token = bearer(make_token(sessions, "village", VILLAGE_A))
    created = api.post("/api/v1/broadcasts", json={"text": "Họp bản tối nay", "urgent": True}, headers=token)
    assert created.status_code == 201 and created.json()["recipients"] == 1
    assert api.get(f"/api/v1/broadcasts/{created.json()['id']}", headers=token).status_code == 200
    admin_made = api.post("/api/v1/broadcasts", json={"text": "Cả xã", "urgent": True}).json()
    assert api.get(f"/api/v1/broadcasts/{admin_made['id']}", headers=token).status_code == 403


def test_audience_filters_combine(api, sessions):
    add_resident(sessions, 1, VILLAGE_A, group="can-bo", completed=("vneid",))
    add_resident(sessions, 2, VILLAGE_A, group="can-bo")
    add_resident(sessions, 3, VILLAGE_A, group="hoc-sinh", age="duoi-18")
    add_resident(sessions, 4, VILLAGE_B, group="can-bo", language="en")

    def count(audience: dict) -> int:
        response = api.post("/api/v1/broadcasts/preview", json={"text": "x", "audience": audience})
        assert response.status_code == 200, response.text
        return response.json()["recipients"]
    assert count({}) == 4
    assert count({"groups": ["can-bo"]}) == 3
    assert count({"groups": ["can-bo"], "villages": [VILLAGE_A]}) == 2
    assert count({"completed": ["vneid"]}) == 1
    assert count({"not_completed": ["vneid"], "groups": ["can-bo"]}) == 2
    assert count({"age_bands": ["duoi-18"]}) == 1
    assert count({"languages": ["en"]}) == 1


def test_quiet_hours_hold_a_broadcast_until_morning_unless_urgent(api, sessions):
    add_resident(sessions, 1, VILLAGE_A)
    evening = (datetime.now(TZ) + timedelta(days=2)).replace(hour=22, minute=30, second=0, microsecond=0)
    naive = evening.replace(tzinfo=None).isoformat()  # no zone: the commune's local time
    held = api.post("/api/v1/broadcasts", json={"text": "Lịch học tuần sau", "send_at": naive}).json()
    morning = (evening + timedelta(days=1)).replace(hour=7, minute=0)
    assert datetime.fromisoformat(held["due_at"]) == morning
    urgent = api.post("/api/v1/broadcasts", json={"text": "Cảnh báo lừa đảo!", "send_at": naive, "urgent": True}).json()
    assert datetime.fromisoformat(urgent["due_at"]) == evening
    with sessions() as session:
        dues = session.scalars(select(OutboxMessage.due_at).order_by(OutboxMessage.id)).all()
    assert dues == [morning, evening]


@pytest.mark.parametrize("body, field", [
    ({}, "text"),
    ({"text": ""}, "text"),
    ({"text": "   \n "}, "text"),
    ({"text": "x" * 4097}, "text"),
    ({"text": "ok", "audience": {"villages": ["khong-co-ban-nay"]}}, "audience.villages.0"),
    ({"text": "ok", "audience": {"groups": ["ma-lao"]}}, "audience.groups.0"),
    ({"text": "ok", "audience": {"completed": ["khoa-la"]}}, "audience.completed.0"),
    ({"text": "ok", "audience": {"ethnicity": ["thai"]}}, "audience.ethnicity"),
    ({"text": "ok", "courses": ["khoa-la"]}, "courses.0"),
    ({"text": "ok", "send_at": "ngay mai"}, "send_at"),
    ({"text": "ok", "send_at": "0001-01-01T00:00:00+01:01"}, "send_at"),  # found by schemathesis: was a 500
])
def test_bad_broadcasts_name_the_field(api, body, field):
    response = api.post("/api/v1/broadcasts", json=body)
    assert error_of(response, 422)["field"] == field
    with_text = api.post("/api/v1/broadcasts/preview", json=body)
    assert with_text.status_code == 422


def test_text_of_4096_characters_is_accepted(api, sessions):
    add_resident(sessions, 1, VILLAGE_A)
    assert api.post("/api/v1/broadcasts", json={"text": "x" * 4096}).status_code == 201


# ---- villages and targets --------------------------------------------------------------------

def test_villages_are_editable(api, sessions):
    add_resident(sessions, 1, VILLAGE_A)
    patched = api.patch(f"/api/v1/villages/{VILLAGE_A}", json={"adult_population": 1200, "households": 410})
    assert patched.status_code == 200 and patched.json()["adult_population"] == 1200
    assert patched.json()["residents"] == 1
    created = api.post("/api/v1/villages", json={"id": "ban-moi", "name": "Bản Mới", "kind": "bản",
                                                 "adult_population": 300})
    assert created.status_code == 201
    assert "ban-moi" in [v["id"] for v in api.get("/api/v1/villages").json()]
    assert error_of(api.post("/api/v1/villages", json={"id": "ban-moi", "name": "X", "kind": "bản"}), 409)["field"] == "id"
    assert error_of(api.post("/api/v1/villages", json={"id": "x2", "name": "X", "kind": "phố"}), 422)["field"] == "kind"
    assert error_of(api.patch(f"/api/v1/villages/{VILLAGE_A}", json={"households": -1}), 422)["field"] == "households"
    assert error_of(api.patch(f"/api/v1/villages/{VILLAGE_A}", json={"name": None}), 422)["field"] == "name"
    assert error_of(api.patch("/api/v1/villages/khong-co", json={"households": 1}), 404)["field"] == "village_id"


def test_the_bot_offers_villages_from_the_database(assistant, sessions, settings_for):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.post("/api/v1/villages", headers=bearer(ADMIN),
                    json={"id": "ban-co-pang", "name": "Bản Co Pàng", "kind": "bản"})
    chat = Chat(assistant, "village-picker")
    chat.cmd("start")
    chat.tap("c:y")
    pages = [chat.last]
    while "pv:1" in data_of(chat.last) and len(pages) < 2:
        pages.append(chat.tap("pv:1"))
    offered = [d for page in pages for d in data_of(page)]
    assert "v:ban-co-pang" in offered
    chat.tap("v:ban-co-pang")
    with sessions() as session:
        assert session.scalar(select(Resident.village_id)) == "ban-co-pang"


def test_targets_are_seeded_from_the_plan_and_editable(api):
    targets = {(t["year"], t["indicator"]): t["percent"] for t in api.get("/api/v1/targets").json()}
    assert targets[(2025, "ky-nang-so-co-ban")] == 80 and targets[(2026, "ky-nang-so-co-ban")] == 100
    assert targets[(2025, "xac-nhan-vneid")] == 50 and targets[(2026, "xac-nhan-vneid")] == 60
    assert targets[(2025, "can-bo")] == 80 and targets[(2026, "hoc-sinh")] == 100
    assert targets[(2025, "nguoi-lao-dong")] == 80 and targets[(2026, "nguoi-lao-dong")] == 100
    put = api.put("/api/v1/targets/2027/xac-nhan-vneid", json={"percent": 70})
    assert put.status_code == 200 and put.json()["percent"] == 70
    assert error_of(api.put("/api/v1/targets/2027/khong-co", json={"percent": 70}), 404)["field"] == "indicator"
    assert error_of(api.put("/api/v1/targets/2027/can-bo", json={"percent": 101}), 422)["field"] == "percent"


# ---- events ----------------------------------------------------------------------------------

def test_events_crud_and_the_yearly_digital_transformation_day(api, assistant, sessions):
    event_jobs(sessions, assistant.knowledge, "Asia/Ho_Chi_Minh", (datetime.min.time(), datetime.min.time()),
               now=datetime(2026, 11, 24, 3, tzinfo=timezone.utc))
    events = api.get("/api/v1/events").json()
    yearly = [e for e in events if e["yearly"]]
    assert len(yearly) == 1 and "10/10" not in yearly[0]["title"]
    assert datetime.fromisoformat(yearly[0]["starts_at"]).astimezone(TZ).strftime("%d/%m %H:%M") == "10/10 07:30"
    created = api.post("/api/v1/events", json={"title": "Lớp học VNeID", "starts_at": "2030-03-01T08:00:00",
                                               "location": "Nhà văn hoá", "village_id": VILLAGE_A})
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert datetime.fromisoformat(created.json()["starts_at"]).astimezone(TZ).hour == 8
    patched = api.patch(f"/api/v1/events/{event_id}", json={"location": "Sân UBND"})
    assert patched.json()["location"] == "Sân UBND"
    assert error_of(api.patch(f"/api/v1/events/{event_id}", json={"title": ""}), 422)["field"] == "title"
    assert error_of(api.post("/api/v1/events", json={"title": "x", "starts_at": "2030-01-01T08:00:00",
                                                      "village_id": "khong-co"}), 422)["field"] == "village_id"
    assert error_of(api.delete(f"/api/v1/events/{yearly[0]['id']}"), 409)["field"] == "event_id"
    assert api.delete(f"/api/v1/events/{event_id}").status_code == 204
    assert api.get(f"/api/v1/events/{event_id}").status_code == 404


def test_residents_subscribe_with_sukien_and_get_announcements_at_the_offsets(assistant, sessions):
    starts = datetime(2027, 3, 20, 8, 0, tzinfo=TZ)
    with sessions() as session:
        session.add(Event(title="Ngày hội học tập số", description="Mang theo điện thoại.", location="Sân xã",
                          starts_at=starts.astimezone(timezone.utc)))
        session.commit()
    quiet = (datetime.strptime("21:00", "%H:%M").time(), datetime.strptime("07:00", "%H:%M").time())
    # On Telegram: announcements are queued only for residents a message can reach (bot/channels/reach.py).
    fan, other = Chat(assistant, "fan", platform="telegram"), Chat(assistant, "other", platform="telegram")
    fan.consent_and_skip_profile()
    other.consent_and_skip_profile()
    listing = fan.cmd("sukien")
    assert "Ngày hội học tập số" in listing[0].text
    [subscribe] = [d for d in data_of(listing) if d.startswith("ev:") and d.endswith(":1")]
    fan.tap(subscribe)
    fan.press(subscribe)  # a double tap changes nothing
    assert any(d.endswith(":0") for d in data_of(fan.last))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EventSubscription)) == 1

    def queued(now: datetime) -> int:
        return event_jobs(sessions, assistant.knowledge, "Asia/Ho_Chi_Minh", quiet, now=now.astimezone(timezone.utc))
    assert queued(datetime(2027, 3, 12, 9, 0, tzinfo=TZ)) == 0          # 8 days before: nothing yet
    assert queued(datetime(2027, 3, 13, 8, 5, tzinfo=TZ)) == 1          # 7 days before
    assert queued(datetime(2027, 3, 13, 9, 0, tzinfo=TZ)) == 0          # ... once only
    assert queued(datetime(2027, 3, 19, 8, 1, tzinfo=TZ)) == 1          # the day before
    assert queued(datetime(2027, 3, 20, 7, 0, tzinfo=TZ)) == 1          # the morning of
    assert queued(datetime(2027, 3, 20, 9, 0, tzinfo=TZ)) == 0          # started: nothing more
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.kind for r in rows] == ["event"] * 3
    assert len({r.resident_id for r in rows}) == 1
    assert "Ngày hội học tập số" in rows[0].text and "20/03/2027" in rows[0].text and "Sân xã" in rows[0].text
    assert [r.text.splitlines()[0] for r in rows] == ["📣 Còn một tuần nữa:", "📣 Ngày mai:", "📣 Hôm nay:"]
    [unsubscribe] = [d for d in data_of(fan.last) if d.endswith(":0")]
    fan.tap(unsubscribe)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EventSubscription)) == 0


def test_sukien_without_consent_lists_events_but_offers_no_reminder(assistant, sessions):
    with sessions() as session:
        session.add(Event(title="Lớp học buổi tối", starts_at=datetime.now(timezone.utc) + timedelta(days=3)))
        session.commit()
    chat = Chat(assistant, "no-consent")
    chat.decline()
    [reply] = chat.cmd("sukien")
    assert "Lớp học buổi tối" in reply.text and "/start" in reply.text
    assert not [d for d in data_of([reply]) if d.startswith("ev:")]
    assert chat.press("ev:99999:1")  # a forged button is harmless


# ---- residents -------------------------------------------------------------------------------

def test_residents_list_search_detail_export_and_delete(api, sessions):
    first = add_resident(sessions, 1, VILLAGE_A, completed=("vneid",), started=("an-toan-mang",))
    add_resident(sessions, 2, VILLAGE_B, group="can-bo")
    listed = api.get("/api/v1/residents?q=người 1").json()
    assert listed["total"] == 1 and listed["items"][0]["completed"] == ["vneid"]
    assert api.get("/api/v1/residents?group=can-bo").json()["total"] == 1
    assert api.get("/api/v1/residents?completed=vneid").json()["total"] == 1
    assert api.get("/api/v1/residents?q=%25").json()["total"] == 0  # a LIKE wildcard is searched literally
    detail = api.get(f"/api/v1/residents/{first}").json()
    courses = {c["course_id"]: c for c in detail["courses"]}
    assert courses["vneid"]["best_percent"] == 100 and courses["an-toan-mang"]["completed_at"] is None
    export = api.get("/api/v1/residents/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["first_name"] for r in rows] == ["Người 1", "Người 2"] and rows[0]["completed"] == "vneid"
    assert api.delete(f"/api/v1/residents/{first}").status_code == 204
    assert api.get(f"/api/v1/residents/{first}").status_code == 404
    with sessions() as session:
        for table in (Resident, Progress, Completion):
            assert session.scalar(select(func.count()).select_from(table).where(table.id == first
                                  if table is Resident else table.resident_id == first)) == 0
        audit = session.execute(select(AuditEntry.action, AuditEntry.subject).order_by(AuditEntry.id)).all()
        assert [action for action, _ in audit] == ["residents.export", "resident.delete"]
        assert f"resident {first}" not in [subject for _, subject in audit]   # the deleted id is not kept
        assert "Người" not in str(session.scalars(select(AuditEntry.detail)).all())
    assert error_of(api.get("/api/v1/residents?limit=0"), 422)["field"] == "limit"


# ---- the report ------------------------------------------------------------------------------

@pytest.fixture
def seeded(api, sessions):
    """A known dataset: village A (population 10) and B (no population entered)."""
    api.patch(f"/api/v1/villages/{VILLAGE_A}", json={"adult_population": 10, "households": 4})
    joined = datetime(2026, 2, 1, tzinfo=timezone.utc)
    add_resident(sessions, 1, VILLAGE_A, completed=tuple(CORE), certified=True, joined=joined)
    add_resident(sessions, 2, VILLAGE_A, completed=tuple(CORE), joined=joined)
    add_resident(sessions, 3, VILLAGE_A, group="can-bo", completed=("vneid",), started=("cho-so",), joined=joined)
    add_resident(sessions, 4, VILLAGE_A, age="duoi-18", group="hoc-sinh", completed=tuple(CORE), certified=True,
                 joined=joined)
    add_resident(sessions, 5, VILLAGE_B, group="can-bo", completed=tuple(CORE), certified=True, joined=joined)
    add_resident(sessions, 6, None, group=None, age=None, joined=joined)
    add_resident(sessions, 7, VILLAGE_A, joined=datetime(2027, 1, 5, tzinfo=timezone.utc))  # after the period


def test_report_json_has_the_right_figures(api, seeded):
    report = api.get("/api/v1/reports/progress?from=2026-01-01&to=2026-06-07").json()
    assert report["year"] == 2026 and report["period_to"] == "2026-06-07"
    villages = {v["id"]: v for v in report["villages"]}
    a, b = villages[VILLAGE_A], villages[VILLAGE_B]
    assert (a["registered"], a["core_completed"], a["courses_completed"], a["courses_started"]) == (4, 3, 10, 11)
    # Adults only: the under-18 who finished the core courses does not count toward the adult target.
    assert a["basic_skills"] == {"count": 2, "base": 10, "percent": 20.0, "target_percent": 100, "met": False}
    assert a["certified"] == {"count": 1, "base": 10, "percent": 10.0, "target_percent": 60, "met": False}
    assert b["basic_skills"]["count"] == 1 and b["basic_skills"]["percent"] is None
    assert villages[None]["registered"] == 1
    assert report["total"]["registered"] == 6
    groups = {g["id"]: g for g in report["groups"]}
    assert groups["can-bo"]["group_target"] == {"count": 1, "base": 2, "percent": 50.0, "target_percent": 100,
                                                "met": False}
    assert groups["hoc-sinh"]["group_target"]["percent"] == 100.0 and groups["hoc-sinh"]["group_target"]["met"]
    indicators = {i["id"]: i["measure"] for i in report["indicators"]}
    assert indicators["ky-nang-so-co-ban"]["count"] == 3 and indicators["ky-nang-so-co-ban"]["base"] is None
    assert indicators["xac-nhan-vneid"]["count"] == 2
    # The 2025 targets apply to a 2025 period.
    old = api.get("/api/v1/reports/progress?from=2025-01-01&to=2025-12-07").json()
    assert old["total"]["registered"] == 0
    assert {i["id"]: i["measure"]["target_percent"] for i in old["indicators"]}["ky-nang-so-co-ban"] == 80


def test_report_files_open_and_show_the_figures(api, seeded):
    xlsx = api.get("/api/v1/reports/progress?from=2026-01-01&to=2026-06-07&format=xlsx")
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = [[c.value for c in row] for sheet in book.worksheets for row in sheet.iter_rows()]
    village_row = next(r for r in cells if r and r[0] == "Tông Lạnh (cũ)")
    assert 4 in village_row and 20.0 in village_row
    docx = api.get("/api/v1/reports/progress?from=2026-01-01&to=2026-06-07&format=docx")
    assert docx.status_code == 200 and "wordprocessingml" in docx.headers["content-type"]
    document = Document(io.BytesIO(docx.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Bình dân học vụ số" in text and "01/01/2026" in text and "07/06/2026" in text
    table_text = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    village = next(row for row in table_text if "Tông Lạnh (cũ)" in row)
    assert village[village.index("Tông Lạnh (cũ)") + 1] == "4" and "20,0" in village


@pytest.mark.parametrize("query, status, field", [
    ("from=2026-06-08&to=2026-06-07", 422, "from"),
    ("to=ngay-mai", 422, "to"),
    ("format=pdf", 422, "format"),
    ("village=khong-co", 404, "village"),
])
def test_bad_report_queries_name_the_field(api, query, status, field):
    assert error_of(api.get(f"/api/v1/reports/progress?{query}"), status)["field"] == field


def test_certification_button_counts_in_the_report(api, assistant):
    chat = Chat(assistant, "cert-1")
    chat.consent_and_skip_profile()
    progress = chat.cmd("tiendo")
    chat.tap("cert:1")
    chat.press("cert:1")
    assert "cert:0" in data_of(chat.last)
    # The commune's date: between 17:00 and 24:00 UTC the machine's date is still yesterday.
    today = datetime.now(TZ).date().isoformat()
    report = api.get(f"/api/v1/reports/progress?to={today}").json()
    assert report["total"]["certified"]["count"] == 1
    assert "cert:1" in data_of(progress)
