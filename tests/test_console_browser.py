"""The officials' console in a real browser (Playwright driving Debian's Chromium), at phone size
(360×740) and desktop (1280×800): sign-in and the lock, a village official's scope, a broadcast
from compose to the fake Bot API, targets that change the overview, and both report files.
No page asks for anything off this machine."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.models import Resident, Village
from console.security import create_user
from tests.browser import sqlite_only

pytestmark = sqlite_only
PASSWORD = "mat-khau-du-dai-1"
VILLAGE_A, VILLAGE_B = "kv-tong-lanh", "kv-phong-ly"


def make_user(sessions, username: str, role: str = "admin", village: str | None = None) -> None:
    with sessions() as session:
        create_user(session, username, PASSWORD, role, village)
        session.commit()


def add_residents(sessions, per_village: dict[str, int], platform: str = "telegram") -> list[int]:
    chats = []
    with sessions() as session:
        n = 0
        for village, count in per_village.items():
            for _ in range(count):
                n += 1
                chats.append(7000 + n)
                session.add(Resident(platform=platform, external_id=str(7000 + n), first_name=f"N{n}", language="vi",
                                     consent_at=datetime.now(timezone.utc), consent_version="1", village_id=village,
                                     age_band="36-59"))
        session.commit()
    return chats


def village_names(sessions) -> dict[str, str]:
    with sessions() as session:
        return {v.id: v.name for v in session.scalars(select(Village))}


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/admin")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


def test_sign_in_and_lock_out_on_a_phone(serve_app, phone_page, sessions, off_server_requests, screenshot):
    make_user(sessions, "can-bo-xa")
    seed_progress(sessions)
    base = serve_app()
    page = phone_page
    page.goto(base + "/admin/broadcasts")
    assert "/admin/login" in page.url                       # not signed in: the form first
    screenshot(page, "console-sign-in-phone")
    for _ in range(2):
        sign_in(page, base, "can-bo-xa", "sai-mat-khau")
        assert page.get_by_role("alert").inner_text().startswith("Tên đăng nhập hoặc mật khẩu")
    sign_in(page, base, "can-bo-xa", "sai-mat-khau")
    assert "thử lại sau" in page.get_by_role("alert").inner_text()
    sign_in(page, base, "can-bo-xa")                        # the right password must wait too
    assert "/admin/login" in page.url and "thử lại sau" in page.get_by_role("alert").inner_text()
    with sessions() as session:                             # the wait is over
        from bot.models import ConsoleUser
        session.query(ConsoleUser).update({"locked_until": None})
        session.commit()
    sign_in(page, base, "can-bo-xa")
    assert page.url.rstrip("/").endswith("/admin")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Tổng quan")
    # The page fits the phone: nothing wider than the screen but the tables that scroll.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "console-overview-phone", full_page=True)
    assert off_server_requests == []


def test_a_village_official_cannot_see_another_village(serve_app, desktop_page, sessions, off_server_requests):
    make_user(sessions, "truong-ban", "village", VILLAGE_A)
    add_residents(sessions, {VILLAGE_A: 2, VILLAGE_B: 3})
    names = village_names(sessions)
    base = serve_app()
    page = desktop_page
    sign_in(page, base, "truong-ban")
    body = page.locator("main").inner_text()
    assert names[VILLAGE_A] in body and names[VILLAGE_B] not in body
    page.goto(base + "/admin/broadcasts/new")
    assert names[VILLAGE_B] not in page.locator("main").inner_text()
    page.get_by_label("Nội dung").fill("Họp bản tối nay")
    expect(page.locator("#live-count")).to_contain_text("2 người sẽ nhận")
    page.goto(base + f"/admin/reports?village={VILLAGE_B}")
    assert page.get_by_role("alert").is_visible()
    assert page.locator("a", has_text="Câu hỏi").count() == 0   # not in the village's menu
    assert off_server_requests == []


@pytest.fixture
def telegram(fake_api):
    return {"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.url}


def test_compose_preview_and_send_a_broadcast_that_reaches_telegram(fake_api, telegram, serve_app, phone_page,
                                                                   desktop_page, sessions, off_server_requests,
                                                                   screenshot):
    # fake_api first: fixtures stop in reverse order, so the app stops before the fake Bot API.
    make_user(sessions, "can-bo-xa")
    chats = add_residents(sessions, {VILLAGE_A: 2, VILLAGE_B: 1})
    names = village_names(sessions)
    base = serve_app(**telegram)
    for page, size in ((phone_page, "phone"), (desktop_page, "desktop")):
        sign_in(page, base, "can-bo-xa")
        page.goto(base + "/admin/broadcasts/new")
        page.get_by_label("Nội dung").fill("Tối nay 19 giờ họp bản về VNeID.")
        page.get_by_label(names[VILLAGE_A]).check()
        expect(page.locator("#live-count")).to_contain_text("2 người sẽ nhận")
        page.get_by_label("Khẩn", exact=False).check()
        screenshot(page, f"console-broadcast-compose-{size}", full_page=True)
        page.get_by_role("button", name="Xem trước").click()
        assert "2 người" in page.locator(".summary").inner_text()
        assert page.locator("#preview-text").inner_text() == "Tối nay 19 giờ họp bản về VNeID."
        screenshot(page, f"console-broadcast-preview-{size}", full_page=True)
    desktop_page.get_by_role("button", name="Gửi", exact=True).click()
    assert "/admin/broadcasts" in desktop_page.url
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(fake_api.sent_to(chat) for chat in chats[:2]):
        time.sleep(0.1)
    assert [m.text for m in fake_api.sent_to(chats[0])] == ["Tối nay 19 giờ họp bản về VNeID."]
    assert fake_api.sent_to(chats[1]) and not fake_api.sent_to(chats[2])    # the other village got nothing
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        desktop_page.reload()
        if "xong" in desktop_page.locator("article.broadcast").first.inner_text():
            break
        time.sleep(0.2)
    assert "xong" in desktop_page.locator("article.broadcast").first.inner_text()
    screenshot(desktop_page, "console-broadcasts-desktop", full_page=True)
    assert off_server_requests == []


def seed_progress(sessions) -> None:
    """A commune some months in: residents in every village, who joined and finished the core
    courses over the last months, some of them certified; adults entered for most villages."""
    import random
    from datetime import timedelta

    from bot.models import Completion
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with sessions() as session:
        villages = session.scalars(select(Village).order_by(Village.position)).all()
        for v, adults in zip(villages, (320, 400, 260, 180, None)):
            v.adult_population = adults
        n = 0
        for v, count in zip(villages, (60, 90, 45, 30, 20)):
            for _ in range(count):
                n += 1
                joined = now - timedelta(days=rng.randint(5, 330))
                resident = Resident(platform="telegram", external_id=str(9000 + n), first_name=f"N{n}",
                                    language="vi", consent_at=joined, consent_version="1", village_id=v.id,
                                    age_band="36-59", created_at=joined,
                                    certified_at=joined + timedelta(days=3) if rng.random() < 0.4 else None)
                session.add(resident)
                session.flush()
                for course in ("vneid", "an-toan-mang", "thanh-toan-so")[:rng.randint(0, 3)]:
                    session.add(Completion(resident_id=resident.id, course_id=course, best_percent=100,
                                           completed_at=min(now, joined + timedelta(days=rng.randint(1, 20)))))
        session.commit()


def test_editing_targets_changes_the_overview(serve_app, desktop_page, sessions, off_server_requests, screenshot):
    make_user(sessions, "can-bo-xa")
    seed_progress(sessions)
    base = serve_app()
    page = desktop_page
    sign_in(page, base, "can-bo-xa")
    page.goto(base + "/admin/villages")
    page.locator(f"#v-{VILLAGE_A} input[name=adult_population]").fill("400")
    page.locator(f"#v-{VILLAGE_A}").get_by_role("button").click()
    assert page.get_by_role("status").is_visible()
    field = page.locator("input[name='target-2026-ky-nang-so-co-ban']")
    field.fill("73")
    page.get_by_role("button", name="Lưu chỉ tiêu").click()
    assert page.locator("input[name='target-2026-ky-nang-so-co-ban']").input_value() == "73"
    page.goto(base + "/admin")
    legend = page.locator("section.card", has_text="Kỹ năng số cơ bản").locator(".legend").inner_text()
    assert "2026: 73%" in legend
    screenshot(page, "console-overview-desktop", full_page=True)
    assert off_server_requests == []


def test_both_reports_download(serve_app, desktop_page, sessions, off_server_requests, tmp_path):
    make_user(sessions, "can-bo-xa")
    add_residents(sessions, {VILLAGE_A: 1})
    base = serve_app()
    page = desktop_page
    sign_in(page, base, "can-bo-xa")
    page.goto(base + "/admin/reports")
    page.get_by_label("Đánh giá chung").fill("Các bản đã tích cực tham gia.")
    page.get_by_role("button", name="Lưu nội dung").click()
    assert page.get_by_label("Đánh giá chung").input_value() == "Các bản đã tích cực tham gia."
    for label, suffix in (("DOCX", ".docx"), ("XLSX", ".xlsx")):
        with page.expect_download() as download:
            page.get_by_role("link", name=label, exact=False).click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.suffix == suffix and path.stat().st_size > 2000
    from docx import Document
    text = "\n".join(p.text for p in Document(str(tmp_path / next(p.name for p in tmp_path.iterdir()
                                                                 if p.suffix == ".docx"))).paragraphs)
    assert "Các bản đã tích cực tham gia." in text
    assert off_server_requests == []


PAGES = ("/admin", "/admin/broadcasts", "/admin/broadcasts/new", "/admin/events", "/admin/villages",
         "/admin/ambassadors", "/admin/unanswered", "/admin/reports")


def test_every_page_fits_a_phone_and_a_desktop(serve_app, phone_page, desktop_page, sessions, off_server_requests,
                                              screenshot):
    """No page is wider than the screen (wide tables scroll inside their box), none breaks the
    Content-Security-Policy or logs an error, and none asks for anything off this machine."""
    make_user(sessions, "can-bo-xa")
    seed_progress(sessions)
    base = serve_app()
    for page, width, size in ((phone_page, 360, "phone"), (desktop_page, 1280, "desktop")):
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, base, "can-bo-xa")
        for path in PAGES:
            answer = page.goto(base + path)
            assert answer.status == 200, path
            assert page.locator("h1").count() == 1, path
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, size)
            name = path.strip("/").replace("/", "-")
            if name in ("admin-reports", "admin-ambassadors", "admin-events", "admin-villages"):
                screenshot(page, f"console-{name.removeprefix('admin-')}-{size}", full_page=True)
        assert errors == [], (size, errors)
    assert off_server_requests == []
