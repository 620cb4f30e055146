"""The Zalo channel's parts: rendering for a platform without buttons, the webhook and its secret,
duplicate events, what residents send besides text, and the settings an operator gets wrong."""
from __future__ import annotations

import time

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.button_data import Action, encode
from bot.channels.zalo.render import MAX_TEXT, render, split, typed_key
from bot.config import Settings
from bot.i18n import translator
from bot.models import ProcessedUpdate
from bot.replies import Button, Contact, Incoming, Reply
from tests.fakezalo import EVENT_TEXT, FakeZalo
from tests.zalo_helpers import say, settle, zalo_app, zalo_env

_ = translator("vi")
SECRET = "zalo-webhook-secret-for-tests"
WEBHOOK = "https://bot.example.org/zalo/webhook"


# ---- rendering ----------------------------------------------------------------------------

def test_buttons_become_numbered_choices_with_the_menu_at_zero():
    reply = Reply("Bước 2", [[Button("⬅️ Quay lại", "s:vneid:0"), Button("Tiếp ➡️", "s:vneid:2")],
                             [Button("🏠 Menu", encode(Action.MENU))]])
    rendering = render(reply, _)
    assert rendering.choices == {"1": "s:vneid:0", "2": "s:vneid:2", "0": "m"}
    assert rendering.parts == ["Bước 2\n\nGõ 1 – ⬅️ Quay lại · 2 – Tiếp ➡️ · 0 – 🏠 Menu"]


def test_short_labels_are_their_own_keys_and_long_lists_go_one_per_line():
    quiz = render(Reply("Câu 1", [[Button(letter, f"qa:vneid:1:0:{i}:0") for i, letter in enumerate("ABCD")]]), _)
    assert set(quiz.choices) == {"A", "B", "C", "D"} and quiz.parts[0].endswith("Gõ A · B · C · D")
    villages = render(Reply("Bạn ở bản nào?", [[Button(f"Bản số {n} có tên khá dài", f"v:b{n}")] for n in range(6)]), _)
    assert villages.parts[0].splitlines()[2:4] == ["Gõ số để chọn:", "1 – Bản số 0 có tên khá dài"]


def test_a_share_code_is_shown_to_type_and_a_text_over_2000_characters_is_split():
    shared = render(Reply("Bài học miễn phí", [[Button("▶️ Mở bài học", code="K7Q 2MX")]]), _)
    assert "K7Q 2MX" in shared.parts[0] and shared.choices is None
    paragraphs = ["x" * 900, "y" * 900, "z" * 900]
    parts = split("\n\n".join(paragraphs))
    assert parts == ["x" * 900 + "\n\n" + "y" * 900, "z" * 900]
    assert all(len(p) <= MAX_TEXT for p in split("w" * 4500)) and "".join(split("w" * 4500)) == "w" * 4500


def test_what_counts_as_a_typed_key():
    assert [typed_key(t) for t in ("1", " 2. ", "#3", "b", "10)", "a b", "12345", "mot")] == \
        ["1", "2", "3", "B", "10", None, None, "MOT"]


# ---- the webhook ---------------------------------------------------------------------------

def point_webhook_at(fake: FakeZalo, client) -> None:
    """ZALO_WEBHOOK_URL is the public https address; in the test, Zalo reaches the app directly."""
    assert fake.webhook_url == WEBHOOK and fake.webhook_secret == SECRET
    fake.webhook_url = f"{client.base_url}/zalo/webhook"


def test_webhook_checks_the_secret_and_handles_a_redelivered_event_once(settings_for, assistant, sessions):
    with FakeZalo() as fake:
        settings = settings_for(**zalo_env(fake, ZALO_WEBHOOK_URL=WEBHOOK, ZALO_WEBHOOK_SECRET=SECRET))
        with zalo_app(settings, assistant) as client:
            point_webhook_at(fake, client)
            assert fake.calls_of("getUpdates") == []        # a webhook excludes polling
            first = say(fake, "w1", "xin chao", replies=2)
            assert "Thuận Châu" in first[0] and fake.webhook_statuses() == [200]

            fake.redeliver(fake.last_event)                   # Zalo sends the same event again
            fake.wait_for_sync(lambda: len(fake.webhook_statuses()) == 2)
            time.sleep(0.5)
            assert fake.webhook_statuses() == [200, 200] and fake.reply_count("w1") == 2
            with sessions() as session:
                assert session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1

            fake.webhook_secret_override = "not-the-secret-at-all"
            fake.webhook_retries = 0
            fake.send_text("w1", "1")
            fake.wait_for_sync(lambda: len(fake.webhook_statuses()) == 3)
            assert fake.webhook_statuses()[-1] == 403 and fake.reply_count("w1") == 2
            forged = client.post("/zalo/webhook", content=b"{not json", headers={"X-Bot-Api-Secret-Token": SECRET})
            assert forged.status_code == 400
            unsigned = client.post("/zalo/webhook", json={"event_name": EVENT_TEXT})
            assert unsigned.status_code == 403


# ---- what residents send -------------------------------------------------------------------

def test_polled_duplicates_stickers_and_group_chats(settings_for, assistant, sessions):
    with FakeZalo() as fake, zalo_app(settings_for(**zalo_env(fake)), assistant):
        say(fake, "p1", "/start", replies=2)
        fake.redeliver(fake.last_event)                       # the same /start again: handled once
        time.sleep(0.8)
        assert fake.reply_count("p1") == 2
        for send, kind in ((fake.send_sticker, "sticker"), (fake.send_voice, "voice"), (fake.send_image, "photo")):
            expected = assistant.handle(Contact("web", "probe-session-0002"), Incoming.unsupported(kind))[0].text
            before = fake.reply_count("p1")
            send("p1")
            settle(fake, "p1", before + 1)
            assert fake.texts("p1")[-1].startswith(expected)
        fake.send_text("g1", "chao ca nha", chat_type="GROUP")  # the bot teaches in private chats only
        say(fake, "p1", "0")
        assert fake.reply_count("g1") == 0


# ---- operator errors -----------------------------------------------------------------------

@pytest.mark.parametrize("env, named", [
    ({"ZALO_BOT_TOKEN": "1:x", "ZALO_WEBHOOK_URL": WEBHOOK}, "ZALO_WEBHOOK_SECRET"),
    ({"ZALO_BOT_TOKEN": "1:x", "ZALO_WEBHOOK_URL": WEBHOOK, "ZALO_WEBHOOK_SECRET": "short"}, "ZALO_WEBHOOK_SECRET"),
    ({"ZALO_BOT_TOKEN": "1:x", "ZALO_WEBHOOK_URL": "http://bot.example.org/z", "ZALO_WEBHOOK_SECRET": SECRET},
     "ZALO_WEBHOOK_URL"),
    ({"ZALO_BOT_TOKEN": "1:x", "ZALO_API_URL": "bot-api.zaloplatforms.com"}, "ZALO_API_URL"),
    ({"ZALO_BOT_TOKEN": "1:x", "ZALO_SEND_RATE": "0"}, "ZALO_SEND_RATE"),
])
def test_wrong_zalo_settings_name_the_variable(env, named):
    with pytest.raises(ValidationError) as error:
        Settings(**env)
    assert named in str(error.value)


def test_a_rejected_token_switches_zalo_off_and_keeps_the_rest(settings_for, assistant):
    with FakeZalo() as fake:
        settings = settings_for(ZALO_BOT_TOKEN="999:wrong-token", ZALO_API_URL=fake.url)
        from bot.web import create_app
        from tests.http_helpers import serving
        with serving(create_app(settings, assistant)) as client:
            deadline = time.monotonic() + 10
            while client.get("/healthz").json()["channels"].get("zalo") != "off":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert client.get("/healthz").status_code == 200
            assert client.post("/chat/api/send", json={"session": "s" * 20, "text": "/start"}).status_code == 200


def test_a_chat_flooding_the_bot_is_answered_in_turn_and_told_once(settings_for, assistant):
    flood = translator("vi")("You sent many messages at once. I will answer them one at a time; the newest ones "
                             "were skipped, so please send them again in a moment.")
    with FakeZalo() as fake, zalo_app(settings_for(**zalo_env(fake)), assistant):
        say(fake, "f1", "/start", replies=2)
        for n in range(40):
            fake.send_text("f1", "vneid la gi")
        fake.wait_for_sync(lambda: flood in fake.texts("f1"), 15)
        say(fake, "quiet-neighbour", "/start", replies=2)   # another chat is answered meanwhile
        time.sleep(3)
        texts = fake.texts("f1")
        assert texts.count(flood) == 1 and 2 + 10 <= len(texts) < 2 + 40
