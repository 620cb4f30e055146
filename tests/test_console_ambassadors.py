"""The console's Đại sứ số page (totals, the month's ranking, invite cards with a QR code) and its
unanswered-questions page, over HTTP, on SQLite and PostgreSQL. UI text is compared through the
console's translator, so the tests hold once the Vietnamese catalog has these strings."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from bot.ambassadors import redeem
from bot.models import AmbassadorInvite, AnswerVote, AuditEntry, Referral, Resident, UnansweredQuestion
from console.pages.ambassadors import NUMBERS, qr_svg
from console.web import _
from bot.web import create_app
from tests.console_helpers import console_server

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
VILLAGE_A, VILLAGE_B = "kv-tong-lanh", "kv-phong-ly"
COMMAND = re.compile(r'<code class="invite-command">/daisuso ([0-9A-Z]+)</code>')
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)", re.I)


@pytest.fixture
def console(settings_for, assistant, sessions):
    with console_server(create_app(settings_for(), assistant), sessions) as server:
        yield server


def invites(sessions) -> list[AmbassadorInvite]:
    with sessions() as session:
        return list(session.scalars(select(AmbassadorInvite).order_by(AmbassadorInvite.id)))


def add_resident(sessions, n: int, village: str | None, name: str | None = None,
                 ambassador: datetime | None = None) -> int:
    now = datetime.now(timezone.utc)
    with sessions() as session:
        r = Resident(platform="telegram", external_id=str(5000 + n), first_name=name or f"Person {n}",
                     language="vi", consent_at=now, consent_version="1", village_id=village, created_at=now,
                     ambassador_since=ambassador)
        session.add(r)
        session.commit()
        return r.id


def ranking_of(html: str) -> str:
    return html.split('id="ranking"')[1].split("</section>")[0]


def no_inline_code(html: str) -> None:
    """The Content-Security-Policy would block these: the page must not need them."""
    assert not INLINE_SCRIPT.search(html)
    assert " style=" not in html and "<style" not in html


def post_invite(client, csrf: str | None, **fields):
    data = {"days": "30", "max_uses": "1", "count": "1", **fields}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post("/admin/ambassadors/invites", data=data)


# ---- invite cards ----------------------------------------------------------------------------

def test_an_admin_prints_an_invite_card_whose_code_makes_an_ambassador(console, sessions, assistant):
    client, csrf = console.signed_in("admin")
    page = client.get("/admin/ambassadors")
    assert page.status_code == 200
    assert 'action="/admin/ambassadors/invites"' in page.text and 'name="village"' in page.text
    no_inline_code(page.text)

    card = post_invite(client, csrf, village=VILLAGE_A, days="7", max_uses="2")
    assert card.status_code == 200, card.text
    assert "no-store" in card.headers["cache-control"]          # the code is never cached
    [code] = COMMAND.findall(card.text)
    assert f"{code[:5]}</span>" in card.text and f"<span>{code[5:]}</span>" in card.text   # grouped, big
    assert "<svg" in card.text and card.text.count('class="qr"') == 1
    assert str(qr_svg(f"/daisuso {code}")) in card.text      # no bot name known: the QR holds the command
    assert 'href="/admin/static/console-print.css" media="print"' in card.text
    no_inline_code(card.text)
    [invite] = invites(sessions)
    assert invite.code_hash != code and invite.village_id == VILLAGE_A and invite.max_uses == 2
    assert invite.expires_at - invite.created_at == timedelta(days=7)
    with sessions() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "ambassador_invite.create"))

    neighbour = add_resident(sessions, 1, None)
    with sessions() as session:
        resident = session.get(Resident, neighbour)
        assert redeem(session, resident, code, datetime.now(timezone.utc)) == "ok"
        assert resident.village_id == VILLAGE_A
        session.commit()
    assert client.get("/admin/static/console-print.css").status_code == 200


def test_cards_carry_the_telegram_link_in_their_qr_and_several_can_be_made_at_once(console, sessions, assistant):
    assistant.bot_username = "hocvuso_test_bot"
    client, csrf = console.signed_in("admin")
    cards = post_invite(client, csrf, count="3")
    assert cards.status_code == 200, cards.text
    codes = COMMAND.findall(cards.text)
    assert len(codes) == len(set(codes)) == 3
    for code in codes:
        link = f"https://t.me/hocvuso_test_bot?start=ds_{code}"
        assert f"<code>{link}</code>" in cards.text and str(qr_svg(link)) in cards.text
    assert [i.village_id for i in invites(sessions)] == [None, None, None]


def test_a_village_officials_invite_is_pinned_to_their_village(console, sessions):
    client, csrf = console.signed_in("village", VILLAGE_A)
    page = client.get("/admin/ambassadors")
    assert page.status_code == 200
    assert 'action="/admin/ambassadors/invites"' in page.text and 'name="village"' not in page.text
    assert post_invite(client, csrf).status_code == 200
    assert [i.village_id for i in invites(sessions)] == [VILLAGE_A]
    # A forged field for another village: the API's own check refuses it, said on the page.
    other = post_invite(client, csrf, village=VILLAGE_B)
    assert other.status_code == 403 and 'class="problem"' in other.text
    assert len(invites(sessions)) == 1


def test_a_viewer_sees_the_ranking_but_may_not_make_invites(console, sessions):
    client, csrf = console.signed_in("viewer")
    page = client.get("/admin/ambassadors")
    assert page.status_code == 200 and 'id="ranking"' in page.text
    assert "/admin/ambassadors/invites" not in page.text and 'name="days"' not in page.text
    assert post_invite(client, csrf).status_code == 403
    assert invites(sessions) == []


def test_a_post_without_the_forms_token_is_refused(console, sessions):
    client, csrf = console.signed_in("admin")
    assert post_invite(client, None).status_code == 403
    assert post_invite(client, csrf[::-1]).status_code == 403
    other, other_csrf = console.signed_in("admin")
    assert post_invite(client, other_csrf).status_code == 403        # another session's token
    assert invites(sessions) == []
    assert post_invite(other, other_csrf).status_code == 200


@pytest.mark.parametrize("fields, named", [
    ({"days": "0"}, "days"), ({"days": "366"}, "days"), ({"days": "-3"}, "days"), ({"days": "1.5"}, "days"),
    ({"max_uses": "abc"}, "max_uses"), ({"max_uses": "101"}, "max_uses"),
    ({"count": "21"}, "count"), ({"count": "0"}, "count"), ({"days": "9" * 40}, "days")])
def test_bad_numbers_give_a_page_naming_the_field_and_make_nothing(console, sessions, fields, named):
    client, csrf = console.signed_in("admin")
    response = post_invite(client, csrf, **fields)
    assert response.status_code == 422
    problem = re.search(r'<p class="problem" role="alert">(.*?)</p>', response.text).group(1)
    assert str(escape(_(NUMBERS[named]))) in problem
    assert 'action="/admin/ambassadors/invites"' in response.text      # the form again, to fix
    value = str(escape(next(iter(fields.values()))))
    assert f'value="{value}"' in response.text                       # with what was typed
    assert invites(sessions) == []


def test_an_unknown_village_is_a_problem_on_the_page(console, sessions):
    client, csrf = console.signed_in("admin")
    response = post_invite(client, csrf, village="no-such-village")
    assert response.status_code == 422 and "no-such-village" in response.text
    not_an_id = post_invite(client, csrf, village="<Not an id>")
    assert not_an_id.status_code == 422 and 'class="problem"' in not_an_id.text
    assert "<Not an id>" not in not_an_id.text
    assert invites(sessions) == []


# ---- totals and ranking ----------------------------------------------------------------------

def test_the_ranking_shows_an_ambassador_with_a_referral_this_month(console, sessions):
    now = datetime.now(timezone.utc)
    star = add_resident(sessions, 1, VILLAGE_A, name="Lan <b>&</b>", ambassador=now - timedelta(days=40))
    add_resident(sessions, 2, VILLAGE_B, name="Quiet one", ambassador=now - timedelta(days=40))
    neighbour = add_resident(sessions, 3, VILLAGE_A)
    with sessions() as session:
        session.add(Referral(resident_id=neighbour, ambassador_id=star, course_id="vneid", created_at=now))
        session.commit()
    client, _csrf = console.signed_in("admin")
    page = client.get("/admin/ambassadors")
    assert page.status_code == 200
    ranking = ranking_of(page.text)
    assert "Lan &lt;b&gt;&amp;&lt;/b&gt;" in ranking and "<b>&</b>" not in page.text
    assert "Quiet one" not in ranking                           # did nothing this month
    assert "Quiet one" in page.text                             # but is an ambassador
    assert '<td class="num">1</td>' in ranking

    month = datetime.now(TZ).strftime("%Y-%m")
    assert "Lan &lt;b&gt;" in client.get(f"/admin/ambassadors?month={month}").text
    earlier = client.get("/admin/ambassadors?month=2020-01")
    assert earlier.status_code == 200 and "Lan &lt;b&gt;" not in ranking_of(earlier.text)
    for bad in ("2026-13", "garbage", "2026-1", "<script>"):
        refused = client.get("/admin/ambassadors", params={"month": bad})
        assert refused.status_code == 422 and 'class="problem"' in refused.text, bad
        assert "<script>" not in refused.text.split("<main>")[1]

    # A village official sees their own village's ambassadors only.
    village, _csrf = console.signed_in("village", VILLAGE_B)
    theirs = village.get("/admin/ambassadors").text
    assert "Quiet one" in theirs and "Lan &lt;b&gt;" not in theirs


# ---- unanswered questions --------------------------------------------------------------------

def test_the_unanswered_page_lists_questions_with_their_closest_entry(console, sessions, assistant):
    question = "<script>alert(1)</script> quen mat khau vneid thi lam sao"
    now = datetime.now(timezone.utc)
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()   # the commune's day
    with sessions() as session:
        session.add(UnansweredQuestion(text=question, count=5, first_seen=now, last_seen=now))
        session.add(UnansweredQuestion(text="zzqx wvvy", count=1, first_seen=now, last_seen=now))
        session.add(AnswerVote(question="cai app nay co mat phi khong", answer="vneid-quen-mat-khau", vote="down",
                               count=2, first_day=today, last_day=today))
        session.commit()
    client, _csrf = console.signed_in("admin")
    page = client.get("/admin/unanswered")
    assert page.status_code == 200, page.text
    html = page.text
    no_inline_code(html)
    assert "<script>alert(1)" not in html and str(escape(question)) in html
    entry = assistant.knowledge.pack("vi").faq
    closest = next(e for e in entry if e.id == "vneid-quen-mat-khau")
    assert "<code>vneid-quen-mat-khau</code>" in html and str(escape(closest.question)) in html
    # Most asked first; the 👎 row names the answer it got.
    assert html.index(str(escape(question))) < html.index("cai app nay co mat phi khong") < html.index("zzqx wvvy")
    voted = html.split("cai app nay co mat phi khong")[1].split("</article>")[0]
    assert "vneid-quen-mat-khau" in voted
    assert client.get("/admin/unanswered?limit=1").text.count('<article class="card unanswered') == 1
    assert client.get("/admin/unanswered?limit=abc").status_code == 422


def test_only_the_commune_admin_opens_the_unanswered_page(console, sessions):
    for role, village in (("village", VILLAGE_A), ("viewer", None)):
        client, _csrf = console.signed_in(role, village)
        assert client.get("/admin/unanswered").status_code == 403, role
        assert "/admin/unanswered" not in client.get("/admin/ambassadors").text    # not in the menu either
    anonymous = console.browser()
    response = anonymous.get("/admin/unanswered")
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    assert anonymous.get("/admin/ambassadors").status_code == 303


def test_no_one_can_see_an_invite_code_again(console, sessions):
    """Only the code's hash is kept: the ambassadors page does not list codes."""
    client, csrf = console.signed_in("admin")
    [code] = COMMAND.findall(post_invite(client, csrf).text)
    assert code not in client.get("/admin/ambassadors").text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AmbassadorInvite)) == 1
