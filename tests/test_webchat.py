"""The web chat and admin API over real HTTP: uvicorn in a thread, httpx as the browser."""
from __future__ import annotations

import httpx
import pytest

from bot.web import create_app
from tests.core_helpers import TELEGRAM_TEXT_MAX
from tests.http_helpers import serving

ADMIN_TOKEN = "adm-secret-token-0123456789abcdef0123"
SESSION = "web-session-0123456789abcdef"


@pytest.fixture
def server(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN_TOKEN), assistant)) as client:
        yield client


class WebResident:
    def __init__(self, client: httpx.Client, session: str = SESSION):
        self.client = client
        self.session = session
        self.last: list[dict] = []

    def post(self, **body) -> list[dict]:
        response = self.client.post("/chat/api/send", json={"session": self.session, **body})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        replies = response.json()["replies"]
        for reply in replies:
            assert set(reply) == {"text", "edit", "buttons", "image", "audio"}
            assert (reply["text"] or reply["audio"]) and len(reply["text"]) <= TELEGRAM_TEXT_MAX
            for row in reply["buttons"]:
                for button in row:
                    assert {"label", "data"} <= set(button) <= {"label", "data", "style", "client", "url", "code"}
                    assert len(button["data"].encode()) <= 64
        if replies:
            self.last = replies
        return replies

    def say(self, text: str) -> list[dict]:
        return self.post(text=text)

    def offered(self) -> list[str]:
        return [b["data"] for r in self.last for row in r["buttons"] for b in row]

    def press(self, data: str) -> list[dict]:
        assert data in self.offered(), f"{data!r} not offered: {self.offered()}"
        return self.post(button=data)


def test_the_page_stays_small_and_everything_it_needs_is_served_here(server):
    """A cheap phone on a weak signal: the page, its script and style, the service worker and the
    manifest together stay under 30 KB (before gzip), and nothing comes from another site."""
    parts = {path: server.get(path) for path in ("/chat", "/chat/sw.js", "/chat/manifest.webmanifest")}
    assert all(r.status_code == 200 for r in parts.values())
    assert sum(len(r.content) for r in parts.values()) < 30 * 1024
    for response in parts.values():
        assert "cdn" not in response.text.lower() and "https://" not in response.text
    worker = parts["/chat/sw.js"]
    assert worker.headers["service-worker-allowed"] == "/chat"
    assert worker.headers["content-type"].startswith("text/javascript")
    manifest = parts["/chat/manifest.webmanifest"].json()
    for icon in manifest["icons"]:
        picture = server.get(icon["src"])
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    missing = server.get("/chat/icon-64.png")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "size"


def test_chat_page(server):
    response = server.get("/chat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="vi">' in page
    assert "/chat/api/send" in page
    assert "$title" not in page and "$strings" not in page  # the template was filled in
    root = server.get("/", follow_redirects=False)
    assert root.status_code in (302, 303, 307) and root.headers["location"] == "/chat"


def test_complete_the_course_and_quiz_over_http(server, knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    me = WebResident(server)
    greeting, consent = me.say("/start")
    assert "Xin chào" in greeting["text"]
    assert [b["data"] for b in consent["buttons"][0]] == ["c:y", "c:n"]
    me.press("c:y")
    me.press("ps:v")
    me.press("ps:g")
    [menu] = me.press("ps:a")
    assert "o:vneid" in me.offered()
    [step] = me.press("o:vneid")
    assert f"Bước 1/{len(course.steps)}" in step["text"] and step["edit"] is False   # after its picture
    assert step["image"] == {"src": f"/media/images/vi/{course.steps[0].image}", "caption": course.steps[0].caption}
    for k in range(1, len(course.steps)):
        [step] = me.press(f"s:vneid:{k}")
        assert f"Bước {k + 1}/{len(course.steps)}" in step["text"]
    intro, question = me.press("q:vneid")
    assert "Kiểm tra" in intro["text"]
    for i, q in enumerate(course.quiz.questions):
        assert f"Câu {i + 1}/{len(course.quiz.questions)}" in me.last[-1]["text"]
        [data] = [d for d in me.offered() if d.startswith("qa:") and d.split(":")[3] == str(i)
                  and d.split(":")[4] == str(q.answer - 1)]
        feedback, after = me.press(data)
        assert "Đúng rồi" in feedback["text"]
    n = len(course.quiz.questions)
    assert f"đúng {n}/{n} câu (100%)" in after["text"]
    assert "Chúc mừng" in after["text"] and "hoàn thành" in after["text"]
    [progress] = me.press("t")
    assert "✅" in progress["text"] and "đã hoàn thành" in progress["text"]

    stats = server.get("/api/v1/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert stats.status_code == 200
    assert stats.json() == {"residents": 1,
                            "courses": [{"course_id": "vneid", "started": 1, "completed": 1}]}


def test_sessions_are_separate_residents(server):
    a = WebResident(server, "session-a-0000000000")
    b = WebResident(server, "session-b-0000000000")
    a.say("/start")
    a.press("c:y")
    [reply] = b.say("/xoadulieu")
    assert "không lưu dữ liệu gì" in reply["text"]
    [reply] = a.say("/xoadulieu")
    assert "x:y" in a.offered()


def test_free_text_and_unknown_buttons_get_the_menu(server):
    me = WebResident(server)
    [reply] = me.say("VNeID là gì vậy?")  # a question the FAQ answers
    assert reply["text"].startswith("❓") and "s:vneid:0" in me.offered() and "m" in me.offered()
    [reply] = me.say("asdfgh qwerty")  # gibberish: an honest "not understood" and the menu
    assert "o:vneid" in me.offered() and "Xin lỗi" in reply["text"]
    [reply] = me.post(button="zz:1")
    assert "o:vneid" in me.offered()
    [reply] = me.say("x" * 4096)  # the longest text the API accepts
    assert "dài quá" in reply["text"]


def validation_error(server, body) -> list[dict]:
    response = server.post("/chat/api/send", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    return detail


@pytest.mark.parametrize("session", ["short", "bad session with spaces!!", "x" * 65, "ÿ" * 20, ""])
def test_bad_session_is_422(server, session):
    detail = validation_error(server, {"session": session, "text": "hi"})
    assert any(err["loc"][-1] == "session" for err in detail), detail


def test_missing_session_is_422(server):
    detail = validation_error(server, {"text": "hi"})
    assert any(err["loc"][-1] == "session" and err["type"] == "missing" for err in detail), detail


def test_both_text_and_button_is_422(server):
    detail = validation_error(server, {"session": SESSION, "text": "hi", "button": "m"})
    assert any("'text'" in err["msg"] and "'button'" in err["msg"] for err in detail), detail


def test_neither_text_nor_button_is_422(server):
    detail = validation_error(server, {"session": SESSION})
    assert any("'text'" in err["msg"] and "'button'" in err["msg"] for err in detail), detail


def test_text_too_long_is_422(server):
    detail = validation_error(server, {"session": SESSION, "text": "x" * 4097})
    assert any(err["loc"][-1] == "text" and err["type"] == "string_too_long" for err in detail), detail


def test_button_too_long_is_422(server):
    detail = validation_error(server, {"session": SESSION, "button": "m" * 65})
    assert any(err["loc"][-1] == "button" for err in detail), detail


def test_not_json_is_422(server):
    response = server.post("/chat/api/send", content=b"not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_healthz(server):
    response = server.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True and response.json()["telegram"] == "off"


def test_openapi_and_docs(server):
    docs = server.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = server.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/chat/api/send" in paths and "post" in paths["/chat/api/send"]
    assert "/api/v1/stats" in paths and "/healthz" in paths
    assert "/chat" not in paths  # the HTML page is not part of the API


def test_stats_needs_the_admin_token(server):
    assert server.get("/api/v1/stats").status_code == 401
    wrong = server.get("/api/v1/stats", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers.get("www-authenticate") == "Bearer"
    basic = server.get("/api/v1/stats", headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert basic.status_code == 401
    ok = server.get("/api/v1/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200
    assert ok.json() == {"residents": 0, "courses": []}


def test_stats_counts_started_and_completed(server, knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    starter = WebResident(server, "starter-00000000000")
    starter.say("/start")
    starter.press("c:y")
    starter.post(button="s:vneid:2")
    declined = WebResident(server, "declined-0000000000")
    declined.say("/start")
    declined.press("c:n")
    declined.post(button="o:vneid")
    stats = server.get("/api/v1/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert stats == {"residents": 1, "courses": [{"course_id": course.id, "started": 1, "completed": 0}]}


def test_garbled_button_data_is_answered_not_a_server_error(server):
    """Anyone can post any button data to the web chat; the core must not crash on it."""
    me = WebResident(server)
    me.say("/start")
    me.press("c:y")
    failures = []
    for data in ("s:vneid:x", "qa:vneid:1:2", "o:khong-co", "s:vneid:²", "pv:²", "qa:vneid:4294967296:0:0:0",
                 "qa:vneid:99999999999999999999:0:0:0"):
        # A fresh connection each time: after a 500 the server may drop a kept-alive one.
        response = httpx.post(f"{server.base_url}/chat/api/send", json={"session": SESSION, "button": data},
                              timeout=15)
        if response.status_code != 200:
            failures.append(f"{data!r}: {response.status_code} {response.text[:100]}")
            continue
        replies = response.json()["replies"]
        if not replies or not any(b["data"] in ("o:vneid", "ps:v") for row in replies[-1]["buttons"] for b in row):
            failures.append(f"{data!r}: {replies}")
    assert not failures, "\n".join(failures)
