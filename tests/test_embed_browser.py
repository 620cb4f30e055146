"""The chat on the commune's website (/chat/embed.js) in a real browser: a page of another origin,
with a strict Content-Security-Policy of its own, includes the one tag; at phone size and desktop
size the round button opens the chat in a panel, the chat greets and asks for consent inside it,
and the panel closes. A site not in HOCVUSO_EMBED_ORIGINS gets no chat in its frame."""
from __future__ import annotations

import json
from html import escape
from types import SimpleNamespace

import httpx
import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from bot.channels.web.embed import SCRIPT
from bot.i18n import translator
from tests.background_server import serve_in_thread
from tests.browser import DESKTOP, PHONE, sqlite_only
from tests.test_catalogs import VIETNAMESE

pytestmark = sqlite_only
_ = translator("vi")
OPEN, CLOSE = _("Open the chat with the digital skills assistant"), _("Close the chat")
TITLE, CONSENT_YES = _("Digital skills assistant"), _("✅ Yes, I agree")
SITE_CSS = """body { margin: 0; font: 17px/1.5 Georgia, serif; color: #1b1b1b; background: #fbfaf7; }
header { background: #0d47a1; color: #fff; padding: 18px 20px; } header b { font-size: 22px; }
main { max-width: 720px; margin: 0 auto; padding: 12px 20px 100px; } h2 { color: #0d47a1; }
/* A site's own rules for buttons and frames, which the widget must not take on. */
button { background: yellow !important; border: 3px dashed green; } iframe { border: 9px solid red; }"""


def site_page(app_base: str) -> str:
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Cổng thông tin xã Thuận Châu</title>
<link rel="stylesheet" href="/site.css"></head><body>
<header><b>Cổng thông tin điện tử xã Thuận Châu</b><br>Tỉnh Sơn La</header>
<main><h2>Bình dân học vụ số</h2>
<p>Bà con muốn học cách dùng VNeID, dịch vụ công trực tuyến, thanh toán số an toàn: bấm nút tròn ở góc
dưới bên phải để hỏi trợ lý, miễn phí.</p>
<h2>Thông báo</h2><p>Lịch họp các bản tháng này được niêm yết tại nhà văn hoá.</p></main>
<script src="{escape(app_base)}/chat/embed.js" defer></script>
</body></html>"""


@pytest.fixture
def website():
    """The commune's website, on an origin of its own (another port), with a strict policy: scripts
    and frames only from the chat's server, styles only its own file, nothing inline."""
    site = SimpleNamespace(app="", origin="")

    def page(request: Request) -> HTMLResponse:
        policy = (f"default-src 'none'; script-src {site.app}; frame-src {site.app}; style-src 'self'; "
                  "img-src 'self'; base-uri 'none'; form-action 'none'")
        return HTMLResponse(site_page(site.app), headers={"Content-Security-Policy": policy})

    def css(request: Request) -> PlainTextResponse:
        return PlainTextResponse(SITE_CSS, media_type="text/css")

    app = Starlette(routes=[Route("/", page), Route("/site.css", css)])
    server, thread, port = serve_in_thread(app, "commune website")
    site.origin = f"http://127.0.0.1:{port}"
    yield site
    server.should_exit = True
    thread.join(timeout=10)


def policy_problems(page) -> list[str]:
    """Everything the browser says it refused because of a Content-Security-Policy."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    return problems


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_chat_opens_in_a_panel_on_the_communes_website(size, website, serve_app, browser_page,
                                                           off_server_requests, screenshot):
    website.app = serve_app(HOCVUSO_EMBED_ORIGINS=f"https://thuanchau.sonla.gov.vn {website.origin}")
    view = PHONE if size == "phone" else DESKTOP
    page = browser_page(view["width"], view["height"], phone=size == "phone")
    refused = policy_problems(page)
    page.goto(website.origin + "/")
    launcher = page.get_by_role("button", name=OPEN)
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert (box["width"], box["height"]) == (56, 56)                          # round, 56 px, bottom right
    assert box["x"] + 56 == pytest.approx(view["width"] - 16, abs=1)
    assert box["y"] + 56 == pytest.approx(view["height"] - 16, abs=1)
    assert launcher.evaluate("b => getComputedStyle(b).borderRadius") == "50%"
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(198, 40, 40)"  # not the site's
    assert len(page.frames) == 1                                              # the chat is not loaded unasked

    if size == "phone":
        launcher.tap()
    else:
        launcher.click()
    panel = page.get_by_role("dialog", name=TITLE)
    expect(panel).to_be_visible()
    chat = page.frame_locator(f"iframe[title='{TITLE}']")
    expect(chat.get_by_role("button", name=CONSENT_YES)).to_be_visible()      # the greeting and consent
    expect(launcher).to_be_hidden()
    frame = panel.locator("iframe")
    assert frame.evaluate("f => getComputedStyle(f).borderTopWidth") == "0px"
    area = panel.bounding_box()
    if size == "phone":                                                       # the whole screen
        assert (area["x"], area["y"], area["width"], area["height"]) == (0, 0, view["width"], view["height"])
    else:                                                                     # a side panel, full height
        assert (area["width"], area["height"]) == (420, view["height"])
        assert area["x"] + area["width"] == view["width"]
    assert page.evaluate("document.cookie") == ""
    screenshot(page, f"embed-{size}")

    page.get_by_role("button", name=CLOSE).click()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_visible()
    assert launcher.evaluate("b => b.getRootNode().activeElement === b")      # focus back on the button
    launcher.click()                                                          # the same chat again
    expect(chat.get_by_role("button", name=CONSENT_YES)).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert refused == []                                                      # the site's policy held nothing back
    assert off_server_requests == []


def test_a_site_not_named_gets_no_chat_in_its_frame(website, serve_app, desktop_page, off_server_requests):
    website.app = serve_app(HOCVUSO_EMBED_ORIGINS="https://thuanchau.sonla.gov.vn")
    page = desktop_page
    page.goto(website.origin + "/")
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
        page.get_by_role("button", name=OPEN).click()
    assert "'self' https://thuanchau.sonla.gov.vn" in refusal.value.text       # the policy that said no
    expect(page.get_by_role("dialog", name=TITLE)).to_be_visible()
    chat = page.frame_locator(f"iframe[title='{TITLE}']")
    expect(chat.locator("#log")).to_have_count(0)                             # no chat page in the frame
    assert len(page.frames) == 2
    page.frames[1].wait_for_url("chrome-error://chromewebdata/")              # Chromium's "refused" page
    assert off_server_requests == []


@pytest.mark.parametrize("origins, expected", [
    ("", "frame-ancestors 'self'"),
    ("https://thuanchau.sonla.gov.vn http://127.0.0.1:8000",
     "frame-ancestors 'self' https://thuanchau.sonla.gov.vn http://127.0.0.1:8000")])
def test_the_chat_page_names_who_may_frame_it(serve_app, origins, expected):
    base = serve_app(HOCVUSO_EMBED_ORIGINS=origins)
    page = httpx.get(base + "/chat")
    assert page.status_code == 200 and page.headers["content-security-policy"] == expected
    script = httpx.get(base + "/chat/embed.js")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "set-cookie" not in script.headers
    # ASCII, the catalog's words \u-escaped: the same on a site whose pages are in another encoding.
    assert script.text.isascii() and json.dumps(OPEN) in script.text and "$strings" not in script.text
    # Its words come from the catalog (bot/channels/web/embed.py fills them in), none from its code.
    assert not [n for n, line in enumerate(SCRIPT.read_text(encoding="utf-8").splitlines(), 1)
                if VIETNAMESE.search(line)]
