"""Đại sứ số: invite codes (forged, used up, expired), share links that credit the ambassador
(through the real python-telegram-bot client and the fake Bot API), and what they see."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from bot.models import AmbassadorInvite, HelpSession, Referral, Resident
from bot.web import create_app
from tests.core_helpers import Chat, data_of
from tests.http_helpers import serving
from tests.telegram_helpers import act, running_bot

ADMIN = "admin-token-ambassadors"


@pytest.fixture
def api(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers.update({"Authorization": f"Bearer {ADMIN}"})
        yield client


def invite(api, **body) -> str:
    response = api.post("/api/v1/ambassadors/invites", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["command"] == f"/daisuso {created['code']}"
    return created["code"]


def resident(assistant, name: str) -> Chat:
    chat = Chat(assistant, name, first_name=name.title())
    chat.consent_and_skip_profile()
    return chat


def test_codes_make_ambassadors_once_and_refuse_forged_used_and_expired_ones(api, assistant, sessions):
    code = invite(api)
    with sessions() as session:  # only the hash is stored
        assert session.scalar(select(AmbassadorInvite.code_hash)) != code
    first, second, third = resident(assistant, "an"), resident(assistant, "binh"), resident(assistant, "chi")
    [welcome] = first.cmd("daisuso", code)
    assert "🎉" in welcome.text and "sh" in data_of([welcome])
    [used] = second.cmd("daisuso", code)
    assert "đã được dùng" in used.text
    [forged] = second.cmd("daisuso", "khong-phai-ma-that")
    assert "chưa đúng" in forged.text
    [weird] = second.cmd("daisuso", "'; DROP TABLE residents; --")
    assert "chưa đúng" in weird.text
    late = invite(api, days=1)
    with sessions() as session:
        session.execute(update(AmbassadorInvite).values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        session.commit()
    [expired] = third.cmd("daisuso", late)
    assert "hết hạn" in expired.text
    with sessions() as session:
        ambassadors = session.scalars(select(Resident.external_id).where(Resident.ambassador_since.is_not(None)))
        assert list(ambassadors) == ["an"]
    [plain] = third.cmd("daisuso")
    assert "/daisuso" in plain.text  # how to become one
    # Without consent nothing can be stored, so the bot asks for it first.
    stranger = Chat(assistant, "no-consent")
    stranger.decline()
    [asked] = stranger.cmd("daisuso", invite(api))
    assert "/start" in asked.text


def test_a_village_token_invites_for_its_own_village(api, assistant, sessions):
    from tests.test_admin_api import make_token

    token = make_token(sessions, "village", "kv-tong-lanh")
    other = api.post("/api/v1/ambassadors/invites", json={"village_id": "kv-phong-ly"},
                     headers={"Authorization": f"Bearer {token}"})
    assert other.status_code == 403 and other.json()["error"]["field"] == "village_id"
    mine = api.post("/api/v1/ambassadors/invites", json={}, headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 201 and mine.json()["village_id"] == "kv-tong-lanh"
    viewer = make_token(sessions, "viewer")
    assert api.post("/api/v1/ambassadors/invites", json={},
                    headers={"Authorization": f"Bearer {viewer}"}).status_code == 403


async def test_a_shared_link_on_telegram_credits_the_ambassador(api, fake_api, assistant, sessions, knowledge):
    code = invite(api)
    ambassador_chat, neighbour_chat = 5101, 5102
    async with running_bot(fake_api, assistant):
        await act(fake_api, ambassador_chat, lambda: fake_api.send_text(ambassador_chat, "/start", "Lò Văn Ba"), 2)
        await act(fake_api, ambassador_chat, lambda: fake_api.press(ambassador_chat, "c:y", first_name="Lò Văn Ba"), 2)
        await act(fake_api, ambassador_chat, lambda: fake_api.send_text(ambassador_chat, f"/daisuso {code}"), 1)
        await act(fake_api, ambassador_chat, lambda: fake_api.press(ambassador_chat, "sh"), 1)
        await act(fake_api, ambassador_chat, lambda: fake_api.press(ambassador_chat, "sh:vneid"), 2)
        card = fake_api.chat(ambassador_chat)[-2]
        [[button]] = card.reply_markup["inline_keyboard"]
        url = urlsplit(button["url"])
        assert url.netloc == "t.me" and url.path == "/hocvuso_test_bot"
        payload = parse_qs(url.query)["start"][0]
        assert len(payload) <= 64 and payload.replace("_", "").replace("-", "").isalnum()
        # The neighbour opens the link: Telegram sends "/start <payload>".
        await act(fake_api, neighbour_chat, lambda: fake_api.send_text(neighbour_chat, f"/start {payload}", "Cà Thị Mai"), 2)
        consent = fake_api.last(neighbour_chat)
        yes = [d for row in consent.buttons for _, d in row if d.startswith("c:y")][0]
        assert payload in yes
        await act(fake_api, neighbour_chat, lambda: fake_api.press(neighbour_chat, yes, first_name="Cà Thị Mai"), 2)
        step = fake_api.last(neighbour_chat)
        assert knowledge.pack("vi").courses["vneid"].steps[0].title in step.text
    with sessions() as session:
        [referral] = session.scalars(select(Referral)).all()
        ambassador = session.scalar(select(Resident).where(Resident.external_id == str(ambassador_chat)))
        assert referral.ambassador_id == ambassador.id and referral.course_id == "vneid"


def test_the_ambassador_sees_who_they_helped_and_what_they_completed(api, assistant, sessions, knowledge):
    ambassador = resident(assistant, "ba")
    ambassador.cmd("daisuso", invite(api))
    with sessions() as session:
        aid = session.scalar(select(Resident.id).where(Resident.external_id == "ba"))
    link = f"g_vneid_0_{aid}"
    neighbour = Chat(assistant, "mai", first_name="Mai")
    replies = neighbour.cmd("start", link)
    neighbour.tap([d for d in data_of(replies) if d.startswith("c:y")][0])
    course = knowledge.pack("vi").courses["vneid"]
    neighbour.walk_course(course)
    neighbour.take_quiz(course)
    # A second ambassador's link does not take the credit away, and nobody credits themselves.
    other = resident(assistant, "tu")
    other.cmd("daisuso", invite(api))
    neighbour.cmd("start", "g_vneid_0_999999")
    ambassador.cmd("start", link)
    refused = Chat(assistant, "khong", first_name="Khong")
    replies = refused.cmd("start", link)
    refused.tap([d for d in data_of(replies) if d.startswith("c:n")][0])
    assert "Bước 1" in refused.last[-1].text or course.steps[0].title in refused.last[-1].text
    with sessions() as session:
        assert [r.resident_id for r in session.scalars(select(Referral))] == [
            session.scalar(select(Resident.id).where(Resident.external_id == "mai"))]
    [page] = ambassador.cmd("daisuso")
    assert "1" in page.text and "Mai" in page.text and course.button in page.text
    # A hands-on session: topic, then how many people.
    ambassador.tap("hs")
    ambassador.tap("hs:an-toan-mang")
    ambassador.tap("hs:an-toan-mang:5")
    with sessions() as session:
        [logged] = session.scalars(select(HelpSession)).all()
        assert (logged.course_id, logged.people) == ("an-toan-mang", 5)
    [listed] = [a for a in api.get("/api/v1/ambassadors").json() if a["id"] == aid]
    assert (listed["helped"], listed["helped_completions"], listed["sessions"], listed["people_in_sessions"]) == (
        1, 1, 1, 5)
    # The neighbour asks to be forgotten: the ambassador's page no longer names them.
    neighbour.cmd("xoadulieu")
    neighbour.tap("x:y")
    [page] = ambassador.cmd("daisuso")
    assert "Mai" not in page.text


@pytest.mark.parametrize("payload", ["g_vneid_0", "g__0_1", "g_vneid_x_1", "g_khong-co_0_1", "ds_", "x" * 80,
                                     "g_vneid_0_1'--"])
def test_odd_deep_links_are_harmless(assistant, payload):
    chat = resident(assistant, "odd")
    replies = chat.cmd("start", payload)
    assert replies and replies[0].text
