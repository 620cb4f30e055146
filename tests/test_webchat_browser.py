"""The web chat in a real browser (Playwright driving Debian's Chromium) on a cheap phone's
screen, 360 and 320 px wide: a long paste gets a kind answer, never silence, and the send
button and the messages fit the screen."""
from __future__ import annotations

from playwright.sync_api import expect

from bot.i18n import translator
from tests.browser import sqlite_only

pytestmark = sqlite_only
TOO_LONG = "Tin nhắn dài quá"


def test_a_long_paste_is_answered_kindly(serve_app, browser_page, off_server_requests):
    base = serve_app()
    for width, height in ((360, 740), (320, 568)):
        page = browser_page(width, height, phone=True)
        page.goto(base + "/chat")
        expect(page.locator("#log button").first).to_be_visible()          # the greeting has come
        send = page.locator("#s").bounding_box()
        assert send["x"] + send["width"] <= width                           # "Gửi" whole, even at 320 px
        box = page.locator("#t")
        box.fill("a" * 5000)                              # a pasted page: the box keeps 4,096
        assert len(box.input_value()) == 4096
        page.locator("#s").click()
        expect(page.locator("#log")).to_contain_text(TOO_LONG)
        # A browser that ignores maxlength sends all 5,000: the endpoint answers 422 naming the
        # field, and the page says the same kind sentence rather than nothing.
        page.evaluate("document.getElementById('t').removeAttribute('maxlength')")
        box.fill("b" * 5000)
        with page.expect_response("**/chat/api/send") as sent:
            page.locator("#s").click()
        assert sent.value.status == 422
        expect(page.locator("#log").get_by_text(TOO_LONG)).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= width   # a long word wraps
    assert off_server_requests == []


def in_view(page, locator) -> bool:
    """The element's top edge is on the screen (not under the send box at the bottom)."""
    box = locator.bounding_box()
    form = page.locator("#f").bounding_box()
    return box is not None and 0 <= box["y"] < form["y"]


def step_message(page):
    return page.locator(".msg", has_text="Bước").last


def test_each_tap_shows_the_top_of_its_step_and_old_buttons_bring_their_message(serve_app, browser_page, knowledge,
                                                                             off_server_requests, screenshot):
    _ = translator("vi")
    vneid = knowledge.pack("vi").courses["vneid"]
    base = serve_app()
    for width, height in ((360, 740), (320, 568)):
        page = browser_page(width, height, phone=True)
        page.goto(base + "/chat")
        page.get_by_role("button", name=_("✅ Yes, I agree")).click()
        for _question in range(3):                             # village, group, age: skipped
            page.get_by_role("button", name="Bỏ qua").last.click()
            expect(page.locator(".sending")).to_have_count(0)
        page.get_by_role("button", name=vneid.button).last.click()
        expect(page.locator(".sending")).to_have_count(0)
        for _tap in range(4):
            header = step_message(page)
            expect(header).to_be_visible()
            assert in_view(page, header), (width, _tap)            # "Bước k/…" is on screen
            for button in page.locator("button").all():        # big enough to tap
                if button.is_visible():
                    assert button.bounding_box()["height"] >= 47.5
            if _tap == 3:
                screenshot(page, f"webchat-lesson-{width}")
            page.get_by_role("button", name=_("Next ➡️")).last.click()
            expect(page.locator(".sending")).to_have_count(0)
        # Answers below push the lesson up the page; its old "Next" still works, and the lesson
        # comes back into view where it is.
        lesson = step_message(page).element_handle()
        for question in ("VNeID là gì vậy?", "Làm sao để không bị lừa đảo qua mạng?"):
            page.locator("#t").fill(question)
            page.locator("#s").click()
            expect(page.locator(".sending")).to_have_count(0)
        before = lesson.inner_text()
        next_button = [b for b in lesson.query_selector_all("button") if b.inner_text() == _("Next ➡️")][0]
        next_button.click()
        expect(page.locator(".sending")).to_have_count(0)
        top = lesson.bounding_box()["y"]
        assert lesson.inner_text() != before and 0 <= top < page.locator("#f").bounding_box()["y"], (width, top)
    assert off_server_requests == []


def test_a_failed_send_keeps_the_text_and_sends_it_again(serve_app, phone_page, off_server_requests, screenshot):
    base = serve_app()
    page = phone_page
    page.goto(base + "/chat")
    expect(page.locator("#log button").first).to_be_visible()
    failures = []

    def drop_once(route):
        if not failures:
            failures.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.fallback()
    page.route("**/chat/api/send", drop_once)
    page.locator("#t").fill("VNeID là gì vậy?")
    page.locator("#s").click()
    retry = page.get_by_role("button", name=translator("vi")("Try again"))
    expect(retry).to_be_visible()
    assert page.locator("#t").input_value() == "VNeID là gì vậy?"     # nothing typed is lost
    screenshot(page, "webchat-failed-send-360")
    page.set_viewport_size({"width": 320, "height": 568})          # the smallest phone: it reflows
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    screenshot(page, "webchat-failed-send-320")
    retry.click()
    expect(page.locator(".msg").last).to_contain_text("VNeID")
    assert page.locator("#t").input_value() == "" and len(failures) == 1
    assert off_server_requests == []


def test_deleting_everything_looks_apart(serve_app, phone_page, screenshot):
    base = serve_app()
    page = phone_page
    page.goto(base + "/chat")
    page.get_by_role("button", name=translator("vi")("✅ Yes, I agree")).click()
    page.locator("#t").fill("/xoadulieu")
    page.locator("#s").click()
    delete = page.get_by_role("button", name=translator("vi")("🗑 Yes, delete everything"))
    keep = page.get_by_role("button", name=translator("vi")("No, keep it"))
    expect(delete).to_have_class("danger")
    assert keep.get_attribute("class") in (None, "")
    assert delete.evaluate("b => getComputedStyle(b).borderColor") != keep.evaluate("b => getComputedStyle(b).borderColor")
    screenshot(page, "webchat-delete-360")
    page.set_viewport_size({"width": 320, "height": 568})          # the smallest phone: it reflows
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    screenshot(page, "webchat-delete-320")
