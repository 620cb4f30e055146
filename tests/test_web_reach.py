"""What a channel can deliver decides what the assistant offers: a web chat resident whose browser
takes no notifications is promised no reminder, while Telegram residents keep theirs; web share
links and family invites are /chat?start= links; a poster's link offers its village."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.button_data import Action, encode
from bot.i18n import translator
from bot.models import Event, Resident, Village, WebPushSubscription, utcnow
from tests.core_helpers import Chat, data_of

_ = translator("vi")
PUBLIC = "https://hocvuso.thuanchau.example"
REMINDERS_ON, REMINDERS_OFF = encode(Action.REMINDERS, 1), encode(Action.REMINDERS, 0)
NOTIFY_ON, NOTIFY_OFF = encode(Action.NOTIFY, 1), encode(Action.NOTIFY, 0)


def joined(assistant, name: str, platform: str) -> Chat:
    chat = Chat(assistant, name, platform=platform)
    chat.consent_and_skip_profile()
    return chat


def subscribe(sessions, chat: Chat) -> None:
    with sessions.begin() as session:
        resident = session.scalar(select(Resident).where(Resident.external_id == chat.contact.external_id))
        session.add(WebPushSubscription(resident_id=resident.id, endpoint=f"https://fcm.googleapis.com/fcm/send/{resident.id}",
                                        p256dh="B" * 87, auth="A" * 22))


@pytest.fixture
def event(sessions):
    with sessions.begin() as session:
        happening = Event(title="Ngày hội Bình dân học vụ số", starts_at=utcnow() + timedelta(days=5),
                          location="Nhà văn hoá xã")
        session.add(happening)
        session.flush()
        return happening.id


def test_reminders_are_offered_where_they_can_be_delivered(assistant, sessions, event):
    telegram = joined(assistant, "tg-1", "telegram")
    assert REMINDERS_OFF in data_of(telegram.cmd("caidat"))
    assert encode(Action.EVENT, event, 1) in data_of(telegram.cmd("sukien"))

    # The web chat with no Web Push on the server: it says so, and offers nothing it cannot keep.
    web = joined(assistant, "web-session-without-push-0001", "web")
    [settings] = web.cmd("caidat")
    assert "không gửi lời nhắc" in settings.text
    assert not {REMINDERS_ON, REMINDERS_OFF, NOTIFY_ON} & set(data_of([settings]))
    [events] = web.cmd("sukien")
    assert encode(Action.EVENT, event, 1) not in data_of([events]) and "ghi nhớ ngày giờ" in events.text

    # Web Push on: the button that asks the browser; after it, what the server holds decides.
    assistant.public_url = PUBLIC
    [settings] = web.cmd("caidat")
    assert data_of([settings])[0] == NOTIFY_ON and not {REMINDERS_ON, REMINDERS_OFF} & set(data_of([settings]))
    [refused] = web.tap(NOTIFY_ON)                      # the browser said no: nothing was stored
    assert "chưa bật được" in refused.text and NOTIFY_ON in data_of([refused])
    subscribe(sessions, web)
    [accepted] = web.press(NOTIFY_ON)
    assert "Đã bật thông báo" in accepted.text
    assert {REMINDERS_OFF, NOTIFY_OFF} <= set(data_of([accepted]))
    assert encode(Action.EVENT, event, 1) in data_of(web.cmd("sukien"))
    [off] = web.press(NOTIFY_OFF)
    assert "Đã tắt thông báo" in off.text and NOTIFY_ON in data_of([off])
    with sessions() as session:
        assert session.scalars(select(WebPushSubscription)).all() == []
    # A subscription made while notifications were on can still be stopped.
    web.press(encode(Action.EVENT, event, 1))   # pressed from an old message: nothing can be sent
    assert encode(Action.EVENT, event, 0) in data_of(web.cmd("sukien"))


def test_the_notify_button_changes_nothing_outside_the_web_chat(assistant, sessions):
    telegram = joined(assistant, "tg-2", "telegram")
    [settings] = telegram.press(NOTIFY_OFF)
    assert REMINDERS_OFF in data_of([settings])
    stranger = Chat(assistant, "web-no-consent-0000001", platform="web")
    stranger.decline()
    [nothing_kept] = stranger.press(NOTIFY_ON)
    assert nothing_kept.text == _("I keep no data about you, so I never send you reminders.")


def test_web_share_links_and_family_invites_open_the_web_chat(assistant, sessions):
    assistant.public_url = PUBLIC
    mother = joined(assistant, "web-mother-000000001", "web")
    mother.cmd("giadinh")
    [_family, invite] = mother.tap(encode(Action.HOUSEHOLD, "new"))
    [[button]] = invite.buttons
    assert button.url.startswith(f"{PUBLIC}/chat?start=hh_") and button.label.startswith("📤")
    payload = button.url.split("start=", 1)[1]

    # The page sends "/start <payload>" for /chat?start=<payload>: the same as a t.me link.
    son = Chat(assistant, "web-son-0000000000001", platform="web")
    son.cmd("start", payload)
    [_thanks, *joined_family] = son.tap(data_of(son.last)[0])     # "Yes": consent carries the link
    assert joined_family and "🎉" in joined_family[0].text
    with sessions() as session:
        families = session.scalars(select(Resident.household_id)).all()
        assert len(families) == 2 and len(set(families)) == 1 and families[0] is not None

    # On Telegram the same invite stays a t.me link when the bot's name is known, else a code.
    father = joined(assistant, "tg-father", "telegram")
    father.cmd("giadinh")
    [_family, invite] = father.tap(encode(Action.HOUSEHOLD, "new"))
    [[button]] = invite.buttons
    assert button.url is None and button.code      # no bot name known in this test: the code


def test_a_poster_link_offers_its_village_after_consent(assistant, sessions):
    with sessions() as session:
        villages = session.scalars(select(Village).order_by(Village.id)).all()
    first, second = villages[0], villages[1]
    chat = Chat(assistant, "tg-poster", platform="telegram")
    chat.cmd("start", f"v_{first.id}")
    [_thanks, question] = chat.tap(data_of(chat.last)[0])
    assert first.name in question.text
    assert data_of([question]) == [encode(Action.VILLAGE, first.id), encode(Action.VILLAGE_PAGE, 0),
                                   encode(Action.PROFILE_SKIP, "v")]
    chat.tap(encode(Action.VILLAGE_PAGE, 0))                      # "another village": the whole list
    chat.tap(encode(Action.VILLAGE, second.id))
    with sessions() as session:
        assert session.scalar(select(Resident.village_id)) == second.id
    # Once the village is known, the poster's link changes nothing; an unknown one is ignored.
    [welcome] = chat.cmd("start", f"v_{first.id}")
    assert encode(Action.VILLAGE, first.id) not in data_of([welcome])
    stranger = Chat(assistant, "tg-poster-2", platform="telegram")
    stranger.cmd("start", "v_khong-co-ban-nay")
    [_thanks, asked] = stranger.tap(data_of(stranger.last)[0])
    assert asked.text == _("Which village do you live in? You can skip this.")
