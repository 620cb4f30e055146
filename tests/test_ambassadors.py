"""Đại sứ số: invite codes (forged, used up, expired), share links that credit the ambassador
(through the real python-telegram-bot client and the fake Bot API), and what they see."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO
from zipfile import ZipFile
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from bot.models import AmbassadorInvite, HelpSession, Referral, Resident
from bot.share_codes import read_code
from bot.web import create_app
from tests.core_helpers import Chat, data_of
from tests.http_helpers import serving
from tests.telegram_helpers import act, running_bot

ADMIN = "admin-token-ambassadors-0123456789abcdef"


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


# ---- inline mode -----------------------------------------------------------------------------

async def test_inline_query_lists_guide_cards_that_credit_the_ambassador(api, fake_api, assistant, sessions):
    ambassador = Chat(assistant, "5201", first_name="Ba", platform="telegram")
    ambassador.consent_and_skip_profile()
    ambassador.cmd("daisuso", invite(api))
    with sessions() as session:
        aid = session.scalar(select(Resident.id).where(Resident.external_id == "5201"))
    async with running_bot(fake_api, assistant):
        queries = {q: fake_api.inline_query(5201, q) for q in ("vneid", "vnei", "mat khau", "", "xyzxyz")}
        await fake_api.wait_for(lambda: set(queries.values()) <= set(fake_api.inline_answers), timeout=10)
    answers = {q: fake_api.inline_answers[i] for q, i in queries.items()}
    first = answers["vneid"][0]
    assert first["type"] == "article" and "VNeID" in first["title"]
    assert first["reply_markup"]["inline_keyboard"][0][0]["url"].endswith(f"?start=g_vneid_0_{aid}")
    assert answers["vnei"][0]["id"] == first["id"]                 # a word still being typed
    assert answers["mat khau"] and all(len(a) <= 50 for a in answers.values())
    assert len(answers[""]) == len(assistant.knowledge.pack("vi").courses)  # every course, first step
    assert answers["xyzxyz"] == []
    assert len({a["id"] for a in answers["vneid"]}) == len(answers["vneid"])


async def test_inline_cards_from_someone_who_is_not_an_ambassador_credit_nobody(fake_api, assistant):
    async with running_bot(fake_api, assistant):
        query = fake_api.inline_query(5301, "vneid")
        await fake_api.wait_for(lambda: query in fake_api.inline_answers, timeout=10)
    url = fake_api.inline_answers[query][0]["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url.endswith("?start=g_vneid_0_0")


# ---- Gia đình số -----------------------------------------------------------------------------

def test_a_household_counts_once_a_member_finishes_the_core_courses(api, assistant, sessions, knowledge):
    mother = Chat(assistant, "me", first_name="Mẹ")
    mother.cmd("start")
    mother.tap("c:y")
    mother.tap("v:kv-tong-lanh")
    mother.tap("ps:g")
    mother.tap("ps:a")
    [intro] = mother.cmd("giadinh")
    assert "gd:new" in data_of([intro])
    created = mother.tap("gd:new")
    # Off Telegram the invite is a code to send (bot/share_codes.py); its link's payload is hh_<code>.
    [code] = [b.code for row in created[-1].buttons for b in row if b.code]
    payload = f"hh_{read_code(code)}"
    son = Chat(assistant, "con", first_name="Con")
    replies = son.cmd("start", payload)
    son.tap([d for d in data_of(replies) if d.startswith("c:y")][0])
    [family] = son.cmd("giadinh")
    assert "2" in family.text and "Mẹ" in family.text and "Con" in family.text
    api.patch("/api/v1/villages/kv-tong-lanh", json={"households": 4})

    def families() -> dict:
        report = api.get("/api/v1/reports/progress").json()
        return {v["id"]: v["digital_families"] for v in report["villages"]}
    assert families()["kv-tong-lanh"]["count"] == 0
    for course_id in knowledge.plan.core_courses[:-1]:
        course = knowledge.pack("vi").courses[course_id]
        son.walk_course(course)
        son.take_quiz(course)
    assert families()["kv-tong-lanh"]["count"] == 0     # not all core courses yet
    last = knowledge.pack("vi").courses[knowledge.plan.core_courses[-1]]
    son.walk_course(last)
    son.take_quiz(last)
    covered = families()["kv-tong-lanh"]
    assert (covered["count"], covered["base"], covered["percent"]) == (1, 4, 25.0)
    [family] = mother.cmd("giadinh")
    assert "✅" in family.text
    # A fresh invite link makes the old one stop working.
    mother.tap("gd:link")
    stranger = resident(assistant, "la")
    [refused] = stranger.cmd("start", payload)
    assert "gd:" not in " ".join(data_of([refused])) and refused.text


# ---- thi đua ---------------------------------------------------------------------------------

def test_leaderboard_orders_ambassadors_by_neighbours_helped_then_completions(api, assistant, sessions, knowledge):
    ids = {}
    for name in ("an", "ba", "ca"):
        chat = resident(assistant, name)
        chat.cmd("daisuso", invite(api))
        with sessions() as session:
            ids[name] = session.scalar(select(Resident.id).where(Resident.external_id == name))
    course = knowledge.pack("vi").courses["vneid"]

    def neighbour(name: str, ambassador: str, completes: bool) -> None:
        chat = Chat(assistant, name, first_name=name.title())
        replies = chat.cmd("start", f"g_vneid_0_{ids[ambassador]}")
        chat.tap([d for d in data_of(replies) if d.startswith("c:y")][0])
        if completes:
            chat.walk_course(course)
            chat.take_quiz(course)
    neighbour("n1", "ba", True)
    neighbour("n2", "ba", False)
    neighbour("n3", "an", True)
    neighbour("n4", "an", True)
    neighbour("n5", "ca", False)
    board = api.get("/api/v1/ambassadors/leaderboard").json()
    assert [(r["rank"], r["ambassador_id"], r["helped"], r["completions"]) for r in board] == [
        (1, ids["an"], 2, 2), (2, ids["ba"], 2, 1), (3, ids["ca"], 1, 0)]
    assert api.get("/api/v1/ambassadors/leaderboard?month=2020-01").json() == []
    bad = api.get("/api/v1/ambassadors/leaderboard?month=2026-13")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "month"
    report = api.get("/api/v1/reports/progress").json()
    assert [a["helped"] for a in report["ambassadors"]] == [2, 2, 1]


def test_a_helped_neighbour_shows_in_the_ambassadors_village_report(api, assistant, sessions, knowledge):
    ambassador = resident(assistant, "truong")
    ambassador.cmd("daisuso", invite(api, village_id="kv-chieng-pac"))  # the invite's village becomes theirs
    with sessions() as session:
        aid = session.scalar(select(Resident.id).where(Resident.external_id == "truong"))
    neighbour = Chat(assistant, "hang", first_name="Hằng")
    neighbour.tap([d for d in data_of(neighbour.cmd("start", f"g_vneid_0_{aid}")) if d.startswith("c:y")][0])
    course = knowledge.pack("vi").courses["vneid"]
    neighbour.walk_course(course)
    neighbour.take_quiz(course)
    report = api.get("/api/v1/reports/progress?village=kv-chieng-pac").json()
    [row] = report["ambassadors"]
    assert (row["first_name"], row["helped"], row["completions"]) == ("Truong", 1, 1)
    docx = api.get("/api/v1/reports/progress?village=kv-chieng-pac&format=docx")
    assert docx.status_code == 200 and b"Truong" in ZipFile(BytesIO(docx.content)).read("word/document.xml")
