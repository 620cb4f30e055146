"""Web Push for web chat residents, over real HTTP, on SQLite and PostgreSQL.

The test plays the browser: it makes its own P-256 key pair and auth secret, consents in the
chat, and subscribes through the real app with an endpoint at a fake push service
(tests/fakepush.py). An official broadcasts through the admin API, the real sender (the app's
leader) pushes, and the test decrypts what the push service received, as the browser would,
and checks the VAPID signature against the server's public key.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import func, select

import bot.delivery as delivery
from bot.channels.web.chat import WebChatLimits
from bot.channels.web.courier import MAX_PAYLOAD, TTL_SECONDS, WebPushCourier, fit
from bot.channels.web.push import public_key, vapid_key
from bot.delivery import Sender, fail_unreachable
from bot.models import OutboxMessage, Resident, WebPushSubscription
from bot.web import create_app
from tests.fakepush import FakePushService
from tests.http_helpers import serving
from tests.test_delivery import drain, queue_broadcast, statuses
from tests.test_reminders import TZ, learner, queued, run
from tests.test_webchat import WebResident

ADMIN = "admin-token-for-web-push-tests-0123456789"
PUBLIC_URL = "https://hocvuso.example.org"
# Urgent, so quiet hours (21:00-07:00 in the commune) never hold it back whatever the hour.
ANNOUNCEMENT = "Chủ nhật này có lớp học VNeID ở nhà văn hoá thôn Bó."


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """What a browser keeps for one push subscription: its key pair and auth secret."""

    def __init__(self, service: FakePushService, name: str):
        self.name = name
        self.endpoint = service.endpoint(name)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict:
        """As PushSubscription.toJSON() gives it."""
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def read(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def service():
    with FakePushService() as fake:
        yield fake


@pytest.fixture
def app_for(settings_for, assistant, service):
    def make(**env):
        values = {"HOCVUSO_ADMIN_TOKEN": ADMIN, "HOCVUSO_PUBLIC_URL": PUBLIC_URL, "WEBPUSH_HOSTS": "127.0.0.1"}
        values.update(env)
        return serving(create_app(settings_for(**{k: v for k, v in values.items() if v is not None}), assistant))
    return make


@pytest.fixture
def client(app_for):
    with app_for() as client:
        yield client


def resident(client, session: str) -> WebResident:
    """A web chat resident who said yes to keeping their progress (a Resident row now exists)."""
    me = WebResident(client, session)
    me.say("/start")
    me.press("c:y")
    return me


def subscribe(client, session: str, subscription: dict):
    return client.post("/chat/api/push", json={"session": session, "subscription": subscription})


def admin(client, method: str, path: str, **kwargs):
    return client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["status"] == status and body["message"]["vi"] and body["message"]["en"]
    return body


def wait_done(client, broadcast_id: int, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = admin(client, "GET", f"/api/v1/broadcasts/{broadcast_id}").json()
        if status["status"] == "done":
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def verify_vapid(authorization: str, server_key: str, audience: str) -> dict:
    """The VAPID header (RFC 8292): "vapid t=<JWT>,k=<key>", the JWT signed with ES256 by the key."""
    scheme, params = authorization.split(" ", 1)
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == server_key
    head, claims, signature = fields["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))   # raises if forged
    claims = json.loads(unb64url(claims))
    assert claims["aud"] == audience and claims["sub"] == PUBLIC_URL
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


# ---- the whole way: subscribe, broadcast, decrypt ----------------------------------------------

def test_a_broadcast_reaches_a_subscribed_web_resident_encrypted_and_signed(client, service, knowledge):
    server_key = client.get("/chat/api/push/key").json()["public_key"]
    assert len(unb64url(server_key)) == 65 and unb64url(server_key)[0] == 4
    browser = Browser(service, "phone-of-lan")
    resident(client, "web-lan-0123456789abcdef")
    answer = subscribe(client, "web-lan-0123456789abcdef", browser.subscription())
    assert answer.status_code == 200 and answer.json() == {"subscribed": True}

    body = {"text": ANNOUNCEMENT, "courses": ["vneid"], "urgent": True}
    assert admin(client, "POST", "/api/v1/broadcasts/preview", json=body).json()["recipients"] == 1
    created = admin(client, "POST", "/api/v1/broadcasts", json=body)
    assert created.status_code == 201 and created.json()["recipients"] == 1, created.text

    [push] = service.wait_for(1)
    message = browser.read(push.body)
    assert message["text"] == ANNOUNCEMENT
    assert message["title"] == "Trợ lý kỹ năng số" and message["url"] == "/chat"
    course = knowledge.pack("vi").courses["vneid"]
    assert message["buttons"] == [[{"label": course.button, "data": "o:vneid"}]]
    assert push.headers["content-encoding"] == "aes128gcm" and push.headers["ttl"] == str(TTL_SECONDS)
    verify_vapid(push.headers["authorization"], server_key, service.origin)
    status = wait_done(client, created.json()["id"])
    assert (status["sent"], status["failed"], status["blocked"]) == (1, 0, 0)
    assert status["channels"] == {"web": {**dict.fromkeys(("queued", "sending", "failed", "blocked", "cancelled"), 0),
                                          "sent": 1}}


def test_a_gone_subscription_is_deleted_and_the_resident_still_chats(client, service, sessions):
    session_id = "web-gone-0123456789abcdef"
    browser = Browser(service, "phone-gone")
    me = resident(client, session_id)
    assert subscribe(client, session_id, browser.subscription()).status_code == 200
    service.answers["phone-gone"] = [410]
    created = admin(client, "POST", "/api/v1/broadcasts", json={"text": ANNOUNCEMENT, "urgent": True}).json()
    assert created["recipients"] == 1
    status = wait_done(client, created["id"])
    assert (status["sent"], status["failed"], status["blocked"]) == (0, 1, 0)
    assert [p.status for p in service.received] == [410]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebPushSubscription)) == 0
        assert session.scalar(select(Resident.active).where(Resident.external_id == session_id)) is True
        assert session.scalar(select(OutboxMessage.last_error)) == "web push: subscription gone"
    # No longer counted, but still a resident who chats.
    assert admin(client, "POST", "/api/v1/broadcasts/preview", json={"text": "x"}).json()["recipients"] == 0
    [menu] = me.say("/menu")
    assert "o:vneid" in me.offered()


# ---- who is counted ---------------------------------------------------------------------------

def test_broadcast_counts_only_web_residents_with_a_subscription(client, service, sessions):
    def count() -> int:
        response = admin(client, "POST", "/api/v1/broadcasts/preview", json={"text": "Họp thôn"})
        assert response.status_code == 200, response.text
        return response.json()["recipients"]
    with sessions() as session:   # a Telegram resident: always reachable
        session.add(Resident(platform="telegram", external_id="4242", consent_at=datetime.now(timezone.utc),
                             consent_version="1"))
        session.commit()
    resident(client, "web-quiet-0123456789abcd")          # never allowed notifications
    resident(client, "web-push-0123456789abcdef")
    assert count() == 1
    browser = Browser(service, "shared-phone")
    assert subscribe(client, "web-push-0123456789abcdef", browser.subscription()).status_code == 200
    assert subscribe(client, "web-push-0123456789abcdef", browser.subscription()).status_code == 200  # again: same row
    assert count() == 2
    # The same browser subscribed in the other chat: the endpoint moves there (one browser, one row).
    resident(client, "web-push2-0123456789abcde")
    assert subscribe(client, "web-push2-0123456789abcde", browser.subscription()).status_code == 200
    assert count() == 2
    with sessions() as session:
        [owner] = session.scalars(select(Resident.external_id).join(
            WebPushSubscription, WebPushSubscription.resident_id == Resident.id)).all()
    assert owner == "web-push2-0123456789abcde"
    off = client.request("DELETE", "/chat/api/push", json={"session": "web-push2-0123456789abcde"})
    assert off.status_code == 200 and off.json() == {"subscribed": False}
    assert count() == 1


def test_reminders_are_queued_only_for_web_residents_who_can_be_reached(assistant, sessions):
    learner(assistant, "web-reminded-0123456789", platform="web")
    learner(assistant, "web-not-reached-0123456", platform="web")
    with sessions() as session:
        reached = session.scalar(select(Resident.id).where(Resident.external_id == "web-reminded-0123456789"))
        session.add(WebPushSubscription(resident_id=reached, endpoint="https://fcm.googleapis.com/fcm/send/x1",
                                        p256dh="p" * 87, auth="a" * 22))
        session.commit()
    later = datetime.now(TZ).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=4)
    assert run(assistant, later) == 1
    [row] = queued(sessions)
    assert row.resident_id == reached and row.kind == "reminder"
    # The leader's sweep fails rows nothing can deliver, but not this one.
    assert fail_unreachable(sessions) == 0
    with sessions() as session:
        other = session.scalar(select(Resident.id).where(Resident.external_id == "web-not-reached-0123456"))
        session.add(OutboxMessage(kind="reminder", resident_id=other, text="x", due_at=datetime.now(timezone.utc),
                                  status="queued", attempts=0))
        session.commit()
    assert fail_unreachable(sessions) == 1
    assert statuses(sessions) == Counter(queued=1, failed=1)


# ---- what the push service answers, through the real sender ------------------------------------

async def test_429_waits_for_retry_after_and_5xx_is_retried(service, sessions, knowledge, monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.1, 0.1, 0.1, 0.1))
    browsers = []
    with sessions() as session:
        for name, answers in (("slow", [(429, "1")]), ("flaky", [503, 502])):
            browser = Browser(service, name)
            sub = browser.subscription()
            person = Resident(platform="web", external_id=f"web-{name}-0123456789abcdef",
                              consent_at=datetime.now(timezone.utc), consent_version="1")
            session.add(person)
            session.flush()
            session.add(WebPushSubscription(resident_id=person.id, endpoint=sub["endpoint"], **sub["keys"]))
            service.answers[name] = answers
            browsers.append(browser)
        session.commit()
    queue_broadcast(sessions, text=ANNOUNCEMENT)
    courier = WebPushCourier(sessions, PUBLIC_URL)
    await courier.start()
    try:
        started = time.monotonic()
        await drain(Sender(sessions, courier, knowledge, rate=20), sessions)
    finally:
        await courier.stop()
    assert statuses(sessions) == Counter(sent=2)
    by_name = {name: [p.status for p in service.received if p.name == name] for name in ("slow", "flaky")}
    assert by_name == {"slow": [429, 201], "flaky": [503, 502, 201]}
    assert time.monotonic() - started >= 0.9      # the 429's Retry-After: 1
    for browser in browsers:
        [accepted] = [p for p in service.received if p.name == browser.name and p.status == 201]
        assert browser.read(accepted.body)["text"] == ANNOUNCEMENT
    with sessions() as session:
        attempts = dict(session.execute(select(Resident.external_id, OutboxMessage.attempts)
                                        .join(Resident, Resident.id == OutboxMessage.resident_id)).all())
    assert attempts == {"web-slow-0123456789abcdef": 1, "web-flaky-0123456789abcdef": 3}  # a 429 is no attempt


def test_a_long_text_is_cut_kindly_to_fit_a_push():
    text = " ".join(["Thông báo của Ủy ban nhân dân xã Thuận Châu về lịch học kỹ năng số."] * 120)
    payload = fit({"title": "Trợ lý kỹ năng số", "text": text, "buttons": [], "url": "/chat"})
    message = json.loads(payload)
    assert len(payload) <= MAX_PAYLOAD and len(payload) > MAX_PAYLOAD - 200
    assert message["text"].endswith("…") and text.startswith(message["text"][:-1])
    assert not message["text"][:-1].endswith(" ")
    short = fit({"title": "t", "text": ANNOUNCEMENT, "buttons": [], "url": "/chat"})
    assert json.loads(short)["text"] == ANNOUNCEMENT


def test_the_vapid_key_is_made_once_and_shared(sessions):
    keys: list[str] = []

    def load() -> None:
        keys.append(public_key(vapid_key(sessions)))
    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1
    assert public_key(vapid_key(sessions)) == keys[0]


# ---- bad input --------------------------------------------------------------------------------

P256DH = b64url(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
AUTH = b64url(os.urandom(16))


@pytest.mark.parametrize("endpoint, keys, field", [
    ("https://evil.example.com/push/1", {}, "subscription.endpoint"),        # not a known push service
    ("http://fcm.googleapis.com/fcm/send/1", {}, "subscription.endpoint"),  # known, but not https
    ("https://user:pw@fcm.googleapis.com/fcm/send/1", {}, "subscription.endpoint"),
    ("ftp://fcm.googleapis.com/1", {}, "subscription.endpoint"),
    ("https://fcm.googleapis.com/fcm/send/1", {"p256dh": P256DH[:-4]}, "subscription.keys.p256dh"),  # too short
    ("https://fcm.googleapis.com/fcm/send/1", {"p256dh": b64url(b"\x04" + bytes(64))}, "subscription.keys.p256dh"),
    ("https://fcm.googleapis.com/fcm/send/1", {"p256dh": "not base64!"}, "subscription.keys.p256dh"),
    ("https://fcm.googleapis.com/fcm/send/1", {"auth": b64url(os.urandom(15))}, "subscription.keys.auth"),
    ("https://fcm.googleapis.com/fcm/send/1", {"auth": "****"}, "subscription.keys.auth"),
])
def test_a_bad_subscription_is_422_naming_the_field(app_for, sessions, endpoint, keys, field):
    with app_for(WEBPUSH_HOSTS="127.0.0.1 fcm.googleapis.com") as client:
        resident(client, "web-bad-0123456789abcdef")
        response = subscribe(client, "web-bad-0123456789abcdef",
                             {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH, **keys}})
        assert error(response, 422)["field"] == field
        ok = subscribe(client, "web-bad-0123456789abcdef", {"endpoint": "https://fcm.googleapis.com/fcm/send/1",
                                                            "keys": {"p256dh": P256DH, "auth": AUTH}})
        assert ok.status_code == 200, ok.text   # the same with good values is taken
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebPushSubscription)) == 1


def test_a_subdomain_wildcard_host_is_allowed(app_for):
    with app_for(WEBPUSH_HOSTS="*.notify.windows.com") as client:
        resident(client, "web-wns-0123456789abcdef")
        sub = {"endpoint": "https://wns2-sg2p.notify.windows.com/w/?token=x", "keys": {"p256dh": P256DH, "auth": AUTH}}
        assert subscribe(client, "web-wns-0123456789abcdef", sub).status_code == 200
        sub["endpoint"] = "https://notify.windows.com.evil.example/w"
        assert error(subscribe(client, "web-wns-0123456789abcdef", sub), 422)["field"] == "subscription.endpoint"


def test_an_unknown_session_is_404_and_nothing_is_kept(client, service, sessions):
    browser = Browser(service, "no-consent")
    WebResident(client, "web-noconsent-0123456789").say("/start")   # talked, but never said yes
    response = subscribe(client, "web-noconsent-0123456789", browser.subscription())
    assert error(response, 404)["field"] == "session"
    bad = subscribe(client, "short", browser.subscription())
    assert error(bad, 422)["field"] == "session"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebPushSubscription)) == 0


def test_push_is_off_without_a_public_url(app_for, service):
    with app_for(HOCVUSO_PUBLIC_URL=None) as client:
        error(client.get("/chat/api/push/key"), 404)
        resident(client, "web-off-0123456789abcdef")
        error(subscribe(client, "web-off-0123456789abcdef", Browser(service, "off").subscription()), 404)
        off = client.request("DELETE", "/chat/api/push", json={"session": "web-off-0123456789abcdef"})
        assert off.status_code == 200 and off.json() == {"subscribed": False}


def test_push_requests_are_rate_limited_like_the_chat(settings_for, assistant, service):
    app = create_app(settings_for(HOCVUSO_PUBLIC_URL=PUBLIC_URL, WEBPUSH_HOSTS="127.0.0.1"), assistant)
    app.state.webchat_limits = WebChatLimits(per_session="3 per minute")
    browser = Browser(service, "busy")
    with serving(app) as client:
        resident(client, "web-busy-0123456789abcdef")                  # two messages
        assert subscribe(client, "web-busy-0123456789abcdef", browser.subscription()).status_code == 200
        refused = subscribe(client, "web-busy-0123456789abcdef", browser.subscription())
        assert error(refused, 429)["field"] == "session" and int(refused.headers["Retry-After"]) >= 1


def test_openapi_documents_the_push_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/chat/api/push/key"]) and {"post", "delete"} <= set(paths["/chat/api/push"])
