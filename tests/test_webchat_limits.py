"""The web chat's rate limits and its answers to bodies that are not JSON, over real HTTP
(uvicorn in a thread), on SQLite and PostgreSQL.

The attack of issue 12: a script opened 100 web sessions and made 100 "certified" residents in
1.3 s. Here it is stopped at the limit on new residents per address, while a resident going
through a whole lesson and quiz, and a class sharing one address, are never limited.

Addresses: the tests connect from 127.0.0.1, which uvicorn trusts as a reverse proxy by default,
so X-Forwarded-For names the client as a proxy in front of `hocvuso serve` would (documentation
addresses only; no traffic goes to them).
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
import schemathesis
from limits import parse_many
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

from bot.channels.web.chat import NEW_RESIDENTS_PER_ADDRESS, PER_SESSION, WebChatLimits
from bot.models import Resident
from bot.web import create_app
from tests.http_helpers import serving

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = "admin-token-for-the-webchat-limit-tests"
VILLAGE = "kv-tong-lanh"
SEND = "/chat/api/send"
SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                 response_schema_conformance, response_headers_conformance]
SESSION_LIMIT = parse_many(PER_SESSION)[0].amount                          # 60 a minute
NEW_RESIDENT_LIMIT = parse_many(NEW_RESIDENTS_PER_ADDRESS)[0].amount      # 50 in 10 minutes


def serve(settings_for, assistant, limits: WebChatLimits | None = None):
    app = create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)
    if limits is not None:
        app.state.webchat_limits = limits
    return serving(app)


@pytest.fixture
def server(settings_for, assistant):
    with serve(settings_for, assistant) as client:
        yield client


def send(client: httpx.Client, session: str, address: str = "198.51.100.20", **body) -> httpx.Response:
    return client.post(SEND, json={"session": session, **body}, headers={"X-Forwarded-For": address})


def assert_limited(response: httpx.Response, field: str) -> int:
    """A 429 in the API's error shape, naming the limit; returns Retry-After."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["status"] == 429 and error["field"] == field
    assert error["message"]["vi"] and error["message"]["en"] and error["message"]["vi"] != error["message"]["en"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1 and str(retry_after) in error["message"]["vi"]
    return retry_after


def conforms_to_the_schema(client: httpx.Client, path: str, response: httpx.Response) -> None:
    """schemathesis's response checks: the status, content type, body and headers are documented."""
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    case = schema[path]["POST"].Case(body={}, media_type="application/json")
    case.validate_response(response, checks=SCHEMA_CHECKS)


def certified_in_the_village(client: httpx.Client) -> dict:
    today = datetime.now(TZ).date().isoformat()
    report = client.get(f"/api/v1/reports/progress?to={today}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert report.status_code == 200, report.text
    village = next(v for v in report.json()["villages"] if v["id"] == VILLAGE)
    indicator = next(i for i in report.json()["indicators"] if i["id"] == "xac-nhan-vneid")
    return {"village": village["certified"], "web": village.get("certified_web"), "indicator": indicator["measure"]}


# --- the attack --------------------------------------------------------------------------------------

def test_fake_web_residents_from_one_address_are_stopped_and_do_not_move_the_certified_figure(server, sessions):
    server.patch(f"/api/v1/villages/{VILLAGE}", json={"adult_population": 10},
                 headers={"Authorization": f"Bearer {ADMIN}"})
    with sessions() as session:          # one real resident, on Telegram, who reported being certified
        joined = datetime.now(timezone.utc) - timedelta(days=30)
        session.add(Resident(platform="telegram", external_id="4242", language="vi", consent_at=joined,
                             consent_version="1", village_id=VILLAGE, created_at=joined,
                             certified_at=joined + timedelta(days=1)))
        session.commit()
    before = certified_in_the_village(server)
    assert before["village"]["count"] == 1 and before["village"]["percent"] == 10.0

    attacker = "203.0.113.66"
    outcomes = []
    for n in range(100):
        fake = f"fake-resident-{n:04d}-session"
        consent = send(server, fake, attacker, button="c:y")
        outcomes.append(consent)
        if consent.status_code == 200:
            assert send(server, fake, attacker, button=f"v:{VILLAGE}").status_code == 200
            assert send(server, fake, attacker, button="cert:1").status_code == 200

    admitted = [r for r in outcomes if r.status_code == 200]
    assert len(admitted) == NEW_RESIDENT_LIMIT
    retry_after = assert_limited(outcomes[-1], "button")
    assert retry_after > 60                      # the window is 10 minutes: a script cannot just wait a bit
    conforms_to_the_schema(server, SEND, outcomes[-1])

    after = certified_in_the_village(server)
    # Web self-reports are shown apart and never counted toward the target.
    assert after["village"] == before["village"]
    assert after["indicator"]["count"] == before["indicator"]["count"] == 1
    assert after["web"] == NEW_RESIDENT_LIMIT

    # Another address (another household, another network) is not held back by the attacker.
    assert send(server, "neighbour-session-0001", "198.51.100.7", button="c:y").status_code == 200


# --- residents are never limited ----------------------------------------------------------------------

class WebLearner:
    """One web resident: remembers the buttons it was last offered, to answer the quiz."""

    def __init__(self, client: httpx.Client, session: str, address: str = "198.51.100.20"):
        self.client, self.session, self.address = client, session, address
        self.offered: list[str] = []
        self.sent = 0

    def send(self, **body) -> list[dict]:
        response = send(self.client, self.session, self.address, **body)
        self.sent += 1
        assert response.status_code == 200, (body, response.text)
        replies = response.json()["replies"]
        self.offered = [b["data"] for r in replies for row in r["buttons"] for b in row] or self.offered
        return replies

    def answer(self, question: int, option: int) -> list[dict]:
        [data] = [d for d in self.offered if d.startswith("qa:") and d.split(":")[3:5] == [str(question), str(option)]]
        return self.send(button=data)


def test_a_resident_at_full_speed_through_a_lesson_and_quiz_is_not_limited_but_a_script_is(server, knowledge):
    """The whole VNeID course and quiz, tapped as fast as the machine goes: far faster than a person,
    and still under the per-session limit (a moving window: a slower pace only counts fewer)."""
    course = knowledge.pack("vi").courses["vneid"]
    me = WebLearner(server, "resident-at-full-speed-01")
    for tap in [{"text": "/start"}, {"button": "c:y"}, {"button": "ps:v"}, {"button": "ps:g"}, {"button": "ps:a"},
                {"button": "o:vneid"}, {"button": "o:vneid"}]:         # the last one a double tap
        me.send(**tap)
    for k in range(1, len(course.steps)):
        me.send(button=f"s:vneid:{k}")
    me.send(button="q:vneid")
    for i, question in enumerate(course.quiz.questions):
        me.answer(i, question.answer - 1)
    [progress] = me.send(button="t")
    assert "✅" in progress["text"]                                  # the course is completed
    assert me.sent < SESSION_LIMIT

    script = "script-session-0000001"
    answers = [send(server, script, text="hi").status_code for _ in range(SESSION_LIMIT)]
    assert answers == [200] * SESSION_LIMIT
    assert_limited(send(server, script, text="hi"), "session")


def test_a_class_behind_one_address_is_not_limited_but_fake_sign_ups_from_it_are(server):
    """40 residents on the cultural house's Wi-Fi sign up and study together, interleaved; then a
    script on the same Wi-Fi tries to add residents, and only the rest of the allowance gets in."""
    wifi = "198.51.100.99"
    learners = [f"class-learner-{n:02d}-session" for n in range(40)]
    lesson = [{"text": "/start"}, {"button": "c:y"}, {"button": "ps:v"}, {"button": "o:vneid"},
              {"button": "s:vneid:1"}]
    for tap in lesson:
        for learner in learners:
            assert send(server, learner, wifi, **tap).status_code == 200, (learner, tap)

    extra = [send(server, f"fake-signup-{n:03d}-session", wifi, button="c:y").status_code for n in range(20)]
    allowance = NEW_RESIDENT_LIMIT - len(learners)
    assert extra[:allowance] == [200] * allowance and set(extra[allowance:]) == {429}
    # Those already signed up go on studying: the limit on new residents does not touch them.
    assert send(server, learners[0], wifi, button="s:vneid:2").status_code == 200


# --- the limits themselves, made small through app.state ---------------------------------------------

def test_the_address_limit_counts_by_the_client_behind_the_proxy_and_an_ipv6_64(settings_for, assistant):
    limits = WebChatLimits(per_address="5 per minute")
    with serve(settings_for, assistant, limits) as client:
        home = "2001:db8:1:2::a"
        for n in range(5):
            assert send(client, f"home-session-{n:02d}-xxxxx", home, text="hi").status_code == 200
        # Another device in the same home (the same /64) shares the allowance ...
        assert_limited(send(client, "home-phone-two-xxxxxxx", "2001:db8:1:2::b", text="hi"), "client")
        # ... a neighbour's network and an IPv4 client do not.
        assert send(client, "next-door-session-xxxx", "2001:db8:1:3::a", text="hi").status_code == 200
        assert send(client, "ipv4-session-xxxxxxxxx", "198.51.100.5", text="hi").status_code == 200


def test_a_limited_message_can_be_sent_again_after_retry_after(settings_for, assistant):
    limits = WebChatLimits(per_session="3 per 2 seconds")
    with serve(settings_for, assistant, limits) as client:
        for _ in range(3):
            assert send(client, "quick-tapper-session1", text="hi").status_code == 200
        refused = send(client, "quick-tapper-session1", text="hi")
        wait = assert_limited(refused, "session")
        assert wait <= 2
        conforms_to_the_schema(client, SEND, refused)
        time.sleep(wait + 0.2)
        assert send(client, "quick-tapper-session1", text="hi").status_code == 200


def test_the_429_is_documented_and_the_page_says_it_kindly(server):
    answers = server.get("/openapi.json").json()["paths"][SEND]["post"]["responses"]
    assert "Retry-After" in answers["429"]["headers"]
    assert answers["429"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    page = server.get("/chat").text
    # The strings come from the Vietnamese catalog; the script shows them on a 429 with a retry button.
    assert "Đang có nhiều tin nhắn gửi đến cùng lúc" in page and "Thử lại" in page
    assert "res.status === 429" in page and "Retry-After" in page


# --- bodies that are not JSON ---------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"session": "\xff\xfe-not-utf-8-at-all", "text": "hi"}', b"[" * 100_000],
                         ids=["not-utf-8", "nested-too-deep"])
def test_a_body_that_cannot_be_decoded_is_a_documented_422_naming_the_body(server, raw):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN}"}
    for path in (SEND, "/api/v1/broadcasts/preview"):
        response = server.post(path, content=raw, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == "body"
        assert response.json()["detail"][0]["type"] == "json_invalid"
        conforms_to_the_schema(server, path, response)
