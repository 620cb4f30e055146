"""Short codes for share links: typed on Zalo or the web chat, or read out over the phone, a code
does what its t.me link does (a shared lesson, a household invite, an ambassador invite)."""
from __future__ import annotations

import io
import logging
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import crockford, share_codes
from bot.channels.terminal.chat import render
from bot.ambassadors import create_invite, hash_code
from bot.i18n import translator
from bot.models import AmbassadorInvite, Household, Referral, Resident, ShareCode, UnansweredQuestion
from bot.replies import Button, Reply, code_line
from tests.core_helpers import Chat, count, data_of
from tests.test_ambassadors import api  # noqa: F401 - the fixture

NOT_UNDERSTOOD = "chưa hiểu"
SYMBOL = "[0-9A-HJKMNP-TV-Z]"
LEAD_WORDS = frozenset({"ma", "so", "code"})


def codes_of(replies: list[Reply]) -> list[str]:
    return [b.code for r in replies for row in r.buttons for b in row if b.code]


def resident_id(sessions, external_id: str) -> int:
    with sessions() as session:
        return session.scalar(select(Resident.id).where(Resident.external_id == external_id))


def make_invite(sessions, days: int = 30) -> str:
    with sessions.begin() as session:
        code, _ = create_invite(session, "test", None, days, 1, datetime.now(timezone.utc))
    return code


def ambassador(assistant, sessions, name: str, platform: str) -> Chat:
    chat = Chat(assistant, name, first_name=name.title(), platform=platform)
    chat.consent_and_skip_profile()
    chat.cmd("daisuso", make_invite(sessions))
    return chat


# ---- reading what residents type ---------------------------------------------------------------

@pytest.mark.parametrize("typed, code", [
    ("ABC123", "ABC123"), ("abc 123", "ABC123"), ("  aBc-12.3 ", "ABC123"), ("abc\u00a0123", "ABC123"),
    ("oIl 0il", "011011"), ("ABCD-EFGH", "ABCDEFGH"), ("abcde fghjk", "ABCDEFGHJK")])
def test_codes_are_read_case_insensitively_with_separators_and_look_alikes(typed, code):
    assert share_codes.read_code(typed) == code


@pytest.mark.parametrize("typed", ["", "abc12", "abc1234", "abcdefghj", "abu 123", "abc_123", "abc12ß",
                                   "ABC12３", "xin chào", "abc 123?"])
def test_what_is_no_code_is_not_read_as_one(typed):
    assert share_codes.read_code(typed) is None


def test_leading_words_are_skipped_and_the_whole_text_is_tried_first():
    assert share_codes.codes_in("mã số: abc-123", LEAD_WORDS) == ["ABC123"]   # with dấu and a colon
    assert share_codes.codes_in("Code ABC 123", LEAD_WORDS) == ["C0DEABC123", "ABC123"]
    assert share_codes.codes_in("ma 1234", LEAD_WORDS) == ["MA1234"]   # a code may start with such letters
    assert share_codes.codes_in("hello abc 123", LEAD_WORDS) == []
    assert share_codes.codes_in("ma abc 123", ()) == ["MAABC123"]       # no lead words in this language
    assert share_codes.codes_in("ma " * 20 + "abc123", LEAD_WORDS) == []   # too long to be a code


def test_new_codes_and_their_display_form_read_back():
    for length in share_codes.LENGTHS:
        code = crockford.new_code(length)
        assert re.fullmatch(f"{SYMBOL}{{{length}}}", code)
        shown = share_codes.display(code)
        half = (length + 1) // 2
        assert shown == f"{code[:half]}-{code[half:]}"
        assert share_codes.read_code(shown) == share_codes.read_code(shown.lower().replace("-", " ")) == code
    assert share_codes.display("ABC123") == "ABC-123"


def test_household_and_invite_codes_have_their_lengths(assistant, sessions):
    Chat(assistant, "mum", platform="web").consent_and_skip_profile()
    from bot.households import create_household, new_invite_code
    with sessions.begin() as session:
        mum = session.scalar(select(Resident).where(Resident.external_id == "mum"))
        first = create_household(session, mum)
        second = new_invite_code(session, mum)
    assert re.fullmatch(f"{SYMBOL}{{8}}", first) and re.fullmatch(f"{SYMBOL}{{8}}", second) and first != second
    assert re.fullmatch(f"{SYMBOL}{{10}}", make_invite(sessions))


def test_a_guide_code_is_made_once_per_link_and_a_clash_is_retried(sessions, monkeypatch):
    now = datetime.now(timezone.utc)
    made = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(crockford, "new_code", lambda length: next(made))
    with sessions.begin() as session:
        assert share_codes.code_for(session, "g_vneid_0_1", now) == "AAAAAA"
        assert share_codes.code_for(session, "g_vneid_0_1", now) == "AAAAAA"   # no new code drawn
        assert share_codes.code_for(session, "g_vneid_0_2", now) == "BBBBBB"   # AAAAAA was taken
    with sessions() as session:
        assert dict(session.execute(select(ShareCode.code, ShareCode.payload)).all()) == {
            "AAAAAA": "g_vneid_0_1", "BBBBBB": "g_vneid_0_2"}
        assert share_codes.payload_for(session, "bbb bbb") == "g_vneid_0_2"
        assert share_codes.payload_for(session, "ccc ccc") is None


# ---- the whole flow, over the core ---------------------------------------------------------------

@pytest.mark.parametrize("platform", ["zalo", "web"])
def test_a_neighbour_types_a_shared_code_gets_the_lesson_and_credits_the_ambassador(
        assistant, sessions, knowledge, platform, caplog):
    caplog.set_level(logging.DEBUG)
    course = knowledge.pack("vi").courses["vneid"]
    ba = ambassador(assistant, sessions, "ba", platform)
    ba.tap("sh")
    card, how = ba.tap("sh:vneid")
    [[button]] = card.buttons
    assert button.url is None and button.data == "" and re.fullmatch(f"{SYMBOL}{{3}}-{SYMBOL}{{3}}", button.code)
    assert "/start" not in card.text + how.text and "Gửi mã" in card.text and "đọc mã" in how.text
    assert card.to_dict()["buttons"] == [[{"label": button.label, "data": "", "code": button.code}]]
    assert codes_of(ba.press("sh:vneid")) == [button.code]   # one code per link, however often shared

    mai = Chat(assistant, f"mai-{platform}", first_name="Mai", platform=platform)
    greeting, consent = mai.text(button.code.replace("-", " ").lower())
    assert "Xin chào" in greeting.text
    aid = resident_id(sessions, "ba")
    assert data_of([consent]) == [f"c:y:g_vneid_0_{aid}", f"c:n:g_vneid_0_{aid}"]
    thanks, step = mai.tap(f"c:y:g_vneid_0_{aid}")
    assert course.steps[0].title in step.text and f"s:{course.id}:1" in data_of([step])
    with sessions() as session:
        [referral] = session.scalars(select(Referral)).all()
        assert (referral.ambassador_id, referral.course_id) == (aid, "vneid")
    [page] = ba.cmd("daisuso")
    assert "Mai" in page.text
    # Typed again by the neighbour, now a resident: the lesson again, and no second credit.
    [again] = mai.text(button.code)
    assert course.steps[0].title in again.text and count(sessions, Referral) == 1
    code = share_codes.read_code(button.code)
    assert code.lower() not in caplog.text.lower() and button.code not in caplog.text


def test_a_household_code_typed_joins_the_family(assistant, sessions):
    mother = Chat(assistant, "mother", first_name="Me", platform="web")
    mother.consent_and_skip_profile()
    mother.cmd("giadinh")
    created = mother.tap("gd:new")
    [code] = codes_of(created)
    assert re.fullmatch(f"{SYMBOL}{{4}}-{SYMBOL}{{4}}", code) and "/start" not in created[-1].text

    son = Chat(assistant, "son", first_name="Con", platform="zalo")
    greeting, consent = son.text(f"Mã {code.lower()}")
    canonical = share_codes.read_code(code)
    yes = f"c:y:hh_{canonical}"
    assert yes in data_of([consent])
    thanks, family = son.tap(yes)
    assert "🎉" in family.text and "2" in family.text
    daughter = Chat(assistant, "daughter", first_name="Gai", platform="web")
    daughter.consent_and_skip_profile()
    [joined] = daughter.text(f"ma so {canonical}")
    assert "🎉" in joined.text
    with sessions() as session:
        homes = set(session.scalars(select(Resident.household_id).where(
            Resident.external_id.in_(["mother", "son", "daughter"]))))
        assert len(homes) == 1 and None not in homes

    # A new invite makes the old code stop working: it is then just text, and not kept.
    [fresh] = codes_of(mother.tap("gd:link"))
    assert fresh != code
    stranger = Chat(assistant, "stranger", platform="zalo")
    stranger.consent_and_skip_profile()
    [answer] = stranger.text(code)
    assert NOT_UNDERSTOOD in answer.text
    with sessions() as session:
        assert session.scalar(select(Resident.household_id).where(Resident.external_id == "stranger")) is None
    assert count(sessions, UnansweredQuestion) == 0


def test_an_invite_code_typed_makes_an_ambassador(assistant, sessions):
    code = make_invite(sessions)
    shown = share_codes.display(code)
    newcomer = Chat(assistant, "newcomer", first_name="Tu", platform="zalo")
    greeting, consent = newcomer.text(shown.lower())
    assert f"c:y:ds_{code}" in data_of([consent])
    thanks, welcome = newcomer.tap(f"c:y:ds_{code}")
    assert "🎉" in welcome.text and "sh" in data_of([welcome])
    # Read out over the phone and sent with /daisuso, in any case and with the dash.
    other = Chat(assistant, "other", platform="web")
    other.consent_and_skip_profile()
    [welcome] = other.cmd("daisuso", share_codes.display(make_invite(sessions)).lower())
    assert "🎉" in welcome.text
    # An expired invite's code is recognised, and says so, as its link would.
    late = make_invite(sessions)
    with sessions.begin() as session:
        invite = session.scalar(select(AmbassadorInvite).where(AmbassadorInvite.code_hash == hash_code(late)))
        invite.expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    third = Chat(assistant, "third", platform="web")
    third.consent_and_skip_profile()
    [expired] = third.text(late)
    assert "hết hạn" in expired.text
    with sessions() as session:
        made = session.scalars(select(Resident.external_id).where(Resident.ambassador_since.is_not(None)))
        assert sorted(made) == ["newcomer", "other"]


def test_the_admin_api_gives_the_invite_code_to_read_out(api, assistant):  # noqa: F811
    created = api.post("/api/v1/ambassadors/invites", json={})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["display_code"] == share_codes.display(body["code"]) and len(body["code"]) == 10
    assert body["command"] == f"/daisuso {body['code']}"
    newcomer = Chat(assistant, "from-the-phone", platform="zalo")
    greeting, consent = newcomer.text(body["display_code"])
    assert f"c:y:ds_{body['code']}" in data_of([consent])


@pytest.mark.parametrize("typed", ["ZZZ-999", "zzzz 9999", "mã 0123456789"])
def test_a_code_that_matches_nothing_gets_the_normal_answer(assistant, sessions, typed):
    stranger = Chat(assistant, "typo", platform="zalo")
    [answer] = stranger.text(typed)
    assert NOT_UNDERSTOOD in answer.text and not any(d.startswith("c:") for d in data_of([answer]))
    resident = Chat(assistant, "typo-resident", platform="zalo")
    resident.consent_and_skip_profile()
    [answer] = resident.text(typed)
    assert NOT_UNDERSTOOD in answer.text
    assert count(sessions, UnansweredQuestion) == 0   # a mistyped code may be close to someone's


def test_old_long_codes_keep_working_through_their_links(assistant, sessions):
    old = secrets.token_urlsafe(9)
    with sessions.begin() as session:
        session.add(Household(code_hash=hash_code(old), created_by=None))
        session.add(AmbassadorInvite(code_hash=hash_code("Old-Invite_Code16"), created_by="test",
                                     expires_at=datetime.now(timezone.utc) + timedelta(days=1), max_uses=1, uses=0))
    member = Chat(assistant, "member", platform="telegram")
    member.consent_and_skip_profile()
    [joined] = member.cmd("start", f"hh_{old}")
    assert "🎉" in joined.text
    [welcome] = member.cmd("daisuso", "Old-Invite_Code16")
    assert "🎉" in welcome.text


# ---- Telegram keeps its links; channels show the code ----------------------------------------------

def test_telegram_cards_keep_their_links_and_carry_the_code(assistant, sessions):
    assistant.bot_username = "hocvuso_test_bot"
    ba = ambassador(assistant, sessions, "tg-ba", "telegram")
    card, how = ba.press("sh:vneid")
    [[button]] = card.buttons
    aid = resident_id(sessions, "tg-ba")
    assert button.url == f"https://t.me/hocvuso_test_bot?start=g_vneid_0_{aid}"
    assert "Bấm nút" in card.text and "Ai mở bài học" in how.text
    with sessions() as session:
        assert share_codes.payload_for(session, button.code) == f"g_vneid_0_{aid}"
    ba.cmd("giadinh")
    [code] = codes_of(ba.tap("gd:new"))
    invite = ba.last[-1].buttons[0][0]
    assert invite.url.endswith(f"?start=hh_{share_codes.read_code(code)}")
    # The same assistant shows only the code to a web chat resident: no link opens the bot there.
    web = ambassador(assistant, sessions, "web-ba", "web")
    [[button]] = web.press("sh:vneid")[0].buttons
    assert button.url is None and button.code


def test_the_code_line_and_the_terminal(assistant):
    _ = translator("vi")
    card = Button("▶️ Mở bài học", code="ABC-123")
    assert code_line(card, _) == "▶️ Mở bài học: gửi mã ABC-123 cho trợ lý"
    assert code_line(card, translator("en")) == "▶️ Mở bài học: send the code ABC-123 to the assistant"
    out = io.StringIO()
    buttons = render([Reply("Bài học", [[card], [Button("🏠 Menu", "m")]])], out)
    assert [b.data for b in buttons] == ["m"]   # the code is not a button to press here
    assert "   ▶️ Mở bài học: gửi mã ABC-123 cho trợ lý\n   [1] 🏠 Menu" in out.getvalue()


def test_a_script_guessing_codes_soon_stops_being_looked_up(assistant, sessions, monkeypatch, caplog):
    """Household codes are 40 bits: the process looks up only so many wrong codes an hour, over all
    chats, so guessing one among thousands of households would take years."""
    monkeypatch.setattr(share_codes, "wrong_codes", share_codes.WrongCodes("3 per hour"))
    mother = Chat(assistant, "budget-mother", first_name="Me", platform="web")
    mother.consent_and_skip_profile()
    mother.cmd("giadinh")
    [code] = codes_of(mother.tap("gd:new"))
    for n in range(3):   # each guess from a new chat, as a script would do
        [answer] = Chat(assistant, f"guesser-{n}", platform="zalo").text(f"ABCD-EFG{n}")
        assert NOT_UNDERSTOOD in answer.text
    with caplog.at_level(logging.WARNING):
        [answer] = Chat(assistant, "guesser-right", platform="zalo").text(code)
    assert NOT_UNDERSTOOD in answer.text                       # even the right code is not looked up now
    assert "wrong share codes" in caplog.text and share_codes.read_code(code) not in caplog.text
    monkeypatch.setattr(share_codes, "wrong_codes", share_codes.WrongCodes("3 per hour"))   # an hour later
    greeting, consent = Chat(assistant, "neighbour", platform="zalo").text(code)
    assert f"c:y:hh_{share_codes.read_code(code)}" in data_of([consent])
