"""A lesson's picture and sound in the web chat, in a real browser (Playwright driving Debian's
Chromium) on a phone (360×740) and a desktop screen: the picture loads above step 1's text with
its caption, and "🔊 Nghe" gives a player whose sound Chromium really decodes."""
from __future__ import annotations

from playwright.sync_api import expect

from bot.i18n import translator
from bot.media import audio
from bot.media.audio import BY_EXTENSION
from bot.media.keys import step_speech
from tests.browser import sqlite_only

pytestmark = sqlite_only
_ = translator("vi")
LISTEN = _("🔊 Listen")
SCREENS = ((360, 740, True), (1280, 800, False))
# The first text line of a message: where the step's text starts, under its picture.
TEXT_TOP = """m => {
  const node = [...m.childNodes].find(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const range = document.createRange();
  range.setStart(node, 0); range.setEnd(node, 1);
  return range.getBoundingClientRect().top;
}"""


def open_first_step(page, base: str, button: str) -> None:
    page.goto(base + "/chat")
    page.get_by_role("button", name=_("✅ Yes, I agree")).click()
    for _question in range(3):                             # village, group, age: skipped
        page.get_by_role("button", name="Bỏ qua").last.click()
        expect(page.locator(".sending")).to_have_count(0)
    page.get_by_role("button", name=button).last.click()
    expect(page.locator(".sending")).to_have_count(0)


def test_a_step_shows_its_picture_and_plays_its_sound(serve_app, browser_page, knowledge, assistant,
                                                      off_server_requests, screenshot):
    vneid = knowledge.pack("vi").courses["vneid"]
    first = vneid.steps[0]
    base = serve_app()
    for width, height, phone in SCREENS:
        page = browser_page(width, height, phone=phone)
        open_first_step(page, base, vneid.button)
        step = page.locator(".msg", has_text=first.title).last
        picture = step.locator("figure img")
        expect(picture).to_be_visible()
        expect(picture).to_have_attribute("src", f"/media/images/vi/{first.image}")
        expect(picture).to_have_attribute("alt", first.caption)
        expect(step.locator("figcaption")).to_have_text(first.caption)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        assert picture.evaluate("img => img.naturalWidth") > 100
        figure = step.locator("figure").bounding_box()
        assert figure["y"] + figure["height"] <= step.evaluate(TEXT_TOP) + 1   # above the step's text
        box = picture.bounding_box()
        assert box["width"] <= width and box["height"] > 40
        assert page.evaluate("document.documentElement.scrollWidth") <= width   # nothing wider than the screen
        screenshot(page, f"listen-step-{width}")

        step.get_by_role("button", name=LISTEN).click()
        expect(page.locator(".sending")).to_have_count(0)
        player = page.locator(".msg audio")
        expect(player).to_have_count(1)
        expect(player).to_be_visible()
        sources = player.locator("source")
        assert [s.get_attribute("type") for s in sources.all()] == ["audio/ogg", "audio/mp4"]
        # Chromium loads and decodes the sound: its length is known, as long as the file's.
        page.wait_for_function("a => a.readyState >= 1 && isFinite(a.duration) && a.duration > 0",
                               arg=player.element_handle(), timeout=20_000)
        # The resident's tap started it: it plays (the time moves on), so Chromium decodes it.
        page.wait_for_function("a => !a.paused && a.currentTime > 0.3", arg=player.element_handle(), timeout=10_000)
        state = player.evaluate("a => ({duration: a.duration, src: a.currentSrc, error: a.error && a.error.code})")
        assert state["error"] is None and state["src"].startswith(base + "/media/audio/"), state
        played = BY_EXTENSION[state["src"].rsplit(".", 1)[1]]
        served = assistant.media.voice(step_speech("vi", vneid, 0), played)
        assert state["src"].endswith(served.name)
        seconds = audio.probe(served.path.read_bytes()).seconds
        assert state["duration"] > 1 and abs(state["duration"] - seconds) < 0.5, (state, seconds)
        # The other source (AAC, for browsers without Opus, older iPhones) is a sound Chromium reads too.
        other = [s.get_attribute("src") for s in sources.all() if not state["src"].endswith(s.get_attribute("src"))]
        [other_src] = other
        other_seconds = page.evaluate("""src => new Promise((done, fail) => {
            const a = new Audio(); a.preload = "metadata";
            a.onloadedmetadata = () => done(a.duration); a.onerror = () => fail(new Error("cannot play " + src));
            a.src = src; })""", other_src)
        assert abs(other_seconds - state["duration"]) < 0.5, (other_src, other_seconds, state)
        screenshot(page, f"listen-player-{width}")
    assert off_server_requests == []
