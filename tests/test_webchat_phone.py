"""The web chat as a resident's phone meets it (Playwright driving Debian's Chromium at 360×740
and 320×568): it installs and opens with no signal, its text grows, share links and poster links
work as Telegram's deep links do, and it promises no reminder the browser cannot take."""
from __future__ import annotations

import re
from playwright.sync_api import expect
from sqlalchemy import select

from bot.ambassadors import create_invite
from bot.button_data import Action, encode
from bot.channels.web.courier import WebPushCourier
from bot.i18n import translator
from bot.models import Progress, Referral, Resident, Village, WebPushSubscription, utcnow
from bot.replies import Button
from tests.browser import sqlite_only

pytestmark = sqlite_only
SIZES = ((360, 740), (320, 568))
_ = translator("vi")


# True once the service worker controls the page (it claims it when it activates).
CONTROLLED = ("new Promise(done => navigator.serviceWorker.controller ? done(true) : "
              "navigator.serviceWorker.addEventListener('controllerchange', () => done(true)))")


def settled(page) -> None:
    expect(page.locator(".sending")).to_have_count(0)


def greeted(page) -> None:
    expect(page.get_by_role("button", name=_("✅ Yes, I agree"))).to_be_visible()
    settled(page)


def agree(page) -> None:
    page.get_by_role("button", name=_("✅ Yes, I agree")).click()
    settled(page)


def skip_profile(page) -> None:
    for _question in range(3):
        page.get_by_role("button", name=_("Skip ⏭")).last.click()
        settled(page)


def send(page, text: str) -> None:
    page.locator("#t").fill(text)
    page.locator("#s").click()
    settled(page)


def at_320(page) -> None:
    """The same screen on the smallest phone: it reflows, and nothing scrolls sideways."""
    page.set_viewport_size({"width": 320, "height": 568})
    fits(page, 320)


def fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for button in page.locator("#log button").all():
        if button.is_visible():
            assert button.bounding_box()["height"] >= 47.5


def test_it_installs_and_opens_with_no_signal(serve_app, browser_page, screenshot, off_server_requests):
    base = serve_app()
    for width, height in SIZES:
        page = browser_page(width, height, phone=True, service_workers="allow")
        page.goto(base + "/chat")
        greeted(page)
        assert page.evaluate(CONTROLLED)
        # Chromium's own judgement: the page can be added to the home screen (a test's browser
        # context is incognito, where nothing installs; every other check passed).
        errors = page.context.new_cdp_session(page).send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [e["errorId"] for e in errors] == ["in-incognito"]
        manifest = page.evaluate("fetch('/chat/manifest.webmanifest').then(r => r.json())")
        assert manifest["start_url"] == "/chat" and manifest["lang"] == "vi" and manifest["display"] == "standalone"

        page.context.set_offline(True)
        page.reload()                                       # from the service worker's copy
        notice = page.locator("#net")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Không có mạng")
        expect(page.get_by_role("button", name=_("Try again"))).to_be_visible()
        fits(page, width)
        screenshot(page, f"webchat-offline-{width}")
        page.context.set_offline(False)                     # the signal is back
        page.get_by_role("button", name=_("Try again")).click()
        greeted(page)
        expect(notice).to_be_hidden()
    assert off_server_requests == []


def test_the_text_can_be_made_bigger(serve_app, browser_page, screenshot):
    base = serve_app()
    for width, height in SIZES:
        page = browser_page(width, height, phone=True)
        page.goto(base + "/chat")
        greeted(page)
        normal = page.locator(".msg").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        bigger = page.get_by_role("button", name=_("Bigger text"))
        bigger.click()
        bigger.click()
        largest = page.locator(".msg").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert largest >= normal * 1.4
        fits(page, width)                                   # bigger, and still no sideways scrolling
        page.reload()                                       # kept for the next visit
        greeted(page)
        assert page.locator(".msg").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") == largest
        screenshot(page, f"webchat-bigger-{width}")


def test_a_web_share_link_credits_the_ambassador(serve_app, browser_page, sessions, screenshot, knowledge,
                                                 off_server_requests):
    base = serve_app(public=True)
    with sessions.begin() as session:
        code, _invite = create_invite(session, "test", None, 7, 1, utcnow())
    ambassador = browser_page(360, 740, phone=True, permissions=["clipboard-read", "clipboard-write"])
    ambassador.goto(base + "/chat")
    agree(ambassador)
    skip_profile(ambassador)
    send(ambassador, f"/daisuso {code}")
    ambassador.get_by_role("button", name=_("📤 Share a lesson")).last.click()
    settled(ambassador)
    vneid = knowledge.pack("vi").courses["vneid"]
    ambassador.get_by_role("button", name=vneid.button).last.click()
    settled(ambassador)
    card = ambassador.locator(".msg", has_text="Bài học miễn phí").last
    expect(card).to_contain_text(vneid.button)
    expect(ambassador.locator(".msg").last).to_contain_text("Zalo")       # how to send it, for the web
    share = card.get_by_role("button", name=_("📤 Send to family and neighbours"))
    share.click()                                 # no share sheet in a headless browser: copied
    expect(card).to_contain_text("Đã chép")
    copied = ambassador.evaluate("navigator.clipboard.readText()")
    link = copied.split()[-1]
    assert link.startswith(base + "/chat?start=g_vneid_0_")
    screenshot(ambassador, "webchat-share-card-360")
    at_320(ambassador)
    screenshot(ambassador, "webchat-share-card-320")

    neighbour = browser_page(320, 568, phone=True)
    neighbour.goto(link)
    greeted(neighbour)
    assert neighbour.url == base + "/chat"          # a reload does not follow the link again
    agree(neighbour)
    step = neighbour.locator(".msg", has_text="Bước 1/").last
    expect(step).to_contain_text(vneid.steps[0].title)
    screenshot(neighbour, "webchat-shared-lesson-320")
    with sessions() as session:
        credited = session.scalars(select(Referral)).all()
        assert len(credited) == 1
        helper = session.get(Resident, credited[0].ambassador_id)
        assert helper.platform == "web" and helper.ambassador_since is not None
        assert session.get(Resident, credited[0].resident_id).platform == "web"
    assert off_server_requests == []


def test_a_poster_link_offers_its_village(serve_app, browser_page, sessions):
    base = serve_app()
    with sessions() as session:
        village = session.scalars(select(Village).order_by(Village.id)).first()
    page = browser_page(320, 568, phone=True)
    page.goto(f"{base}/chat?start=v_{village.id}")
    greeted(page)
    agree(page)
    page.get_by_role("button", name=_("✅ Yes, {village}").format(village=village.name)).click()
    settled(page)
    expect(page.locator(".msg").last).to_contain_text(_("Which group are you in? You can skip this."))
    with sessions() as session:
        assert session.scalars(select(Resident.village_id)).all() == [village.id]


def test_no_reminder_is_promised_that_the_browser_cannot_take(serve_app, browser_page, sessions, screenshot):
    # Without a public address the server sends no Web Push: no reminder button, and it says so.
    page = browser_page(360, 740, phone=True)
    page.goto(serve_app() + "/chat")
    agree(page)
    skip_profile(page)
    send(page, "/caidat")
    settings = page.locator(".msg").last
    expect(settings).to_contain_text("không gửi lời nhắc")
    expect(settings.get_by_role("button", name=_("🔔 Turn reminders on"))).to_have_count(0)
    expect(settings.get_by_role("button", name=_("🔕 Turn reminders off"))).to_have_count(0)
    expect(settings.get_by_role("button", name=_("🔔 Turn on notifications"))).to_have_count(0)

    # With Web Push on, the page asks the browser; this one gets no push service (no internet),
    # so the assistant says it could not, rather than "on".
    phone = browser_page(360, 740, phone=True, service_workers="allow", permissions=["notifications"])
    phone.goto(serve_app(public=True) + "/chat")
    agree(phone)
    skip_profile(phone)
    assert phone.evaluate(CONTROLLED)
    send(phone, "/caidat")
    phone.get_by_role("button", name=_("🔔 Turn on notifications")).click()
    settled(phone)
    answer = phone.locator(".msg").last
    expect(answer).to_contain_text("chưa bật được thông báo")
    expect(answer.get_by_role("button", name=_("🔔 Turn on notifications"))).to_be_visible()
    screenshot(phone, "webchat-notifications-360")
    at_320(phone)
    screenshot(phone, "webchat-notifications-320")
    send(phone, "/sukien")
    expect(phone.get_by_role("button", name="🔔 Nhắc tôi")).to_have_count(0)
    with sessions() as session:
        assert session.scalars(select(WebPushSubscription)).all() == []


def test_a_progress_code_moves_the_lessons_to_another_phone(serve_app, browser_page, sessions, knowledge, screenshot):
    base = serve_app()
    vneid = knowledge.pack("vi").courses["vneid"]
    old = browser_page(360, 740, phone=True)
    old.goto(base + "/chat")
    agree(old)
    skip_profile(old)
    old.get_by_role("button", name=vneid.button).last.click()
    settled(old)
    for _tap in range(3):
        old.get_by_role("button", name=_("Next ➡️")).last.click()
        settled(old)
    send(old, "/matiendo")
    card = old.locator(".msg").last
    code = re.search(r"\d{3} \d{3} \d{3}", card.inner_text()).group(0)   # read out as three groups
    screenshot(old, "webchat-progress-code-360")
    at_320(old)
    screenshot(old, "webchat-progress-code-320")

    new = browser_page(320, 568, phone=True)           # another browser: another session
    new.goto(base + "/chat")
    agree(new)
    skip_profile(new)
    send(new, "ma tien do " + code.replace(" ", ""))    # typed without dấu or spaces
    question = new.locator(".msg").last
    expect(question).to_contain_text("bước 4/")               # what will move, before it moves
    new.get_by_role("button", name=_("✅ Yes, move it here")).click()
    settled(new)
    expect(new.locator(".msg").filter(has_text="bước 4/").last).to_be_visible()
    screenshot(new, "webchat-progress-moved-320")
    with sessions() as session:
        [resident] = session.scalars(select(Resident)).all()       # one person, not two
        progress = session.get(Progress, (resident.id, "vneid"))
        assert progress.step_index == 3
    send(old, "/tiendo")                                 # the old phone keeps nothing
    expect(old.locator(".msg").last).to_contain_text("/start")
    expect(old.locator(".msg").last).not_to_contain_text("4/11")


def test_a_pushed_reminder_shows_in_the_chat_with_its_buttons(serve_app, browser_page, sessions, knowledge,
                                                              screenshot):
    """The service worker gets what the server's courier encrypts (here delivered by Chromium's
    DevTools, as a push service would): a notification, and the message in the chat with its
    buttons, which work."""
    base = serve_app(public=True)
    page = browser_page(360, 740, phone=True, service_workers="allow", permissions=["notifications"])
    page.goto(base + "/chat")
    agree(page)
    skip_profile(page)
    assert page.evaluate(CONTROLLED)
    vneid = knowledge.pack("vi").courses["vneid"]
    text = "👋 Chào bạn! Bạn đang học «" + vneid.button + "» (bước 2/11). Mình học tiếp nhé?"
    buttons = [[Button(_("▶️ Continue"), encode(Action.STEP, "vneid", 1))],
               [Button(_("🔕 No more reminders"), encode(Action.REMINDERS, 0))]]
    payload = WebPushCourier(sessions, base).render(text, buttons, "vi").payload

    devtools = page.context.new_cdp_session(page)
    registrations = []
    devtools.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    devtools.send("ServiceWorker.enable")
    for _wait in range(100):
        if registrations:
            break
        page.wait_for_timeout(50)
    [registration] = [r for r in registrations if r["scopeURL"] == base + "/chat"]
    devtools.send("ServiceWorker.deliverPushMessage", {"origin": base + "/", "registrationId":
                                                       registration["registrationId"], "data": payload.decode()})
    pushed = page.locator(".msg", has_text="Mình học tiếp nhé?")
    expect(pushed).to_be_visible()
    screenshot(page, "webchat-pushed-reminder-360")
    at_320(page)
    screenshot(page, "webchat-pushed-reminder-320")
    pushed.get_by_role("button", name=_("▶️ Continue")).click()
    settled(page)
    expect(page.locator(".msg", has_text="Bước 2/").last).to_be_visible()
