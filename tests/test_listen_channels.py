"""Lessons heard and seen on the messengers: Telegram through the real python-telegram-bot client
and the fake Bot API (voice notes and photos uploaded, an official's voice note fetched), and Zalo
through `hocvuso serve`'s app and the fake Zalo Bot API (which fetches the picture's and the
sound's public address itself, as Zalo does)."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from bot.i18n import translator
from bot.media import audio
from bot.media.audio import OPUS
from bot.media.keys import step_speech
from bot.media.speech import speakable
from bot.models import Recording, Resident
from tests.fakezalo import FakeZalo
from tests.telegram_helpers import act, button_data, running_bot
from tests.test_listen import PER_CHAR, TONE_SECONDS, tone
from tests.test_telegram_journey import consent_yes
from tests.zalo_helpers import choices, key_for, say, wait_zalo_ready, zalo_env

_ = translator("vi")
LISTEN = _("🔊 Listen")
CANNOT_LISTEN = _("I cannot listen to voice messages yet.")


@pytest.fixture
def vneid(knowledge):
    return knowledge.pack("vi").courses["vneid"]


def recordings(sessions) -> list[Recording]:
    with sessions() as session:
        return session.scalars(select(Recording)).all()


def make_official(sessions, platform: str, external_id: str) -> None:
    with sessions.begin() as session:
        changed = session.execute(update(Resident).where(Resident.platform == platform,
                                                         Resident.external_id == external_id).values(official=True))
        assert changed.rowcount == 1


async def voice_notes(fake, chat: int, count: int) -> list:
    await fake.wait_for(lambda: sum(m.kind == "voice" for m in fake.media[chat]) >= count, 20)
    return [m for m in fake.media[chat] if m.kind == "voice"]


# ---- Telegram ------------------------------------------------------------------------------

async def test_telegram_step_comes_after_its_picture_and_is_heard_as_a_voice_note(fake_api, assistant, knowledge,
                                                                                vneid):
    chat = 6101
    first = vneid.steps[0]
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, chat)
        await act(fake_api, chat, lambda: fake_api.press(chat, "o:vneid"), 1)
        step = fake_api.last(chat)
        [photo] = fake_api.media[chat]
        assert photo.kind == "photo" and photo.caption == first.caption
        assert photo.data == (knowledge.root / "vi" / "images" / first.image).read_bytes()
        assert photo.data.startswith(b"\x89PNG\r\n\x1a\n")
        assert photo.message_id < step.message_id                     # the picture first, then the text
        assert first.title in step.text
        assert button_data(step, label=LISTEN) == "ls:s:vneid:0"

        texts_before = fake_api.reply_count(chat)
        fake_api.press(chat, "ls:s:vneid:0", step.message_id)
        [voice] = await voice_notes(fake_api, chat, 1)
        assert voice.filename.endswith(".ogg") and voice.caption == f"🔊 {first.title}"   # what the voice note reads
        found = audio.probe(voice.data)
        characters = len(speakable(step_speech("vi", vneid, 0).text))
        assert found.codec == "opus" and found.container == "ogg"
        assert PER_CHAR[0] * characters < found.seconds < PER_CHAR[1] * characters, (found, characters)
        # The very file the cache keeps for this step: asking again makes nothing new.
        calls = assistant.media.speaker.calls
        assert assistant.media.voice(step_speech("vi", vneid, 0), OPUS).path.read_bytes() == voice.data
        assert assistant.media.speaker.calls == calls
        await fake_api.wait_for(lambda: bool(fake_api.calls_of("answerCallbackQuery")), 5)
        assert fake_api.reply_count(chat) == texts_before                # the voice note alone, no text

        # A later step with no picture: no photo; its own voice note, of its own length.
        await act(fake_api, chat, lambda: fake_api.press(chat, "s:vneid:8", step.message_id), 1)
        step = fake_api.last(chat)
        assert vneid.steps[8].title in step.text
        fake_api.press(chat, button_data(step, label=LISTEN), step.message_id)
        [_first, later] = await voice_notes(fake_api, chat, 2)
        assert [m.kind for m in fake_api.media[chat]] == ["photo", "voice", "voice"]
        characters = len(speakable(step_speech("vi", vneid, 8).text))
        found = audio.probe(later.data)
        assert found.codec == "opus" and PER_CHAR[0] * characters < found.seconds < PER_CHAR[1] * characters


async def test_telegram_an_official_records_a_step_and_it_is_heard(fake_api, assistant, sessions, vneid):
    chat = 6102
    recording = tone()
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, chat)
        make_official(sessions, "telegram", str(chat))
        await act(fake_api, chat, lambda: fake_api.send_text(chat, "/ghiam vneid 1"), 1)
        assert vneid.steps[0].title in fake_api.last(chat).text
        assert fake_api.calls_of("getFile") == []
        await act(fake_api, chat, lambda: fake_api.send_voice_note(chat, recording, duration=2), 1)
        saved = fake_api.last(chat)
        assert saved.text.startswith("✅")
        [fetched] = fake_api.calls_of("getFile")          # the official's voice note was downloaded
        assert fetched["file_id"] in fake_api.files
        [stored] = recordings(sessions)
        assert stored.data == recording and stored.key == f"vneid/{vneid.steps[0].id}" and stored.language == "vi"

        # "🔊 Nghe" under the confirmation: the official's own voice, 2 s, not the 46 s computer voice.
        fake_api.press(chat, button_data(saved, label=LISTEN), saved.message_id)
        [voice] = await voice_notes(fake_api, chat, 1)
        found = audio.probe(voice.data)
        assert found.codec == "opus" and found.seconds == pytest.approx(TONE_SECONDS, abs=0.15), found
        # And so for anyone who opens the step.
        other = 6103
        await consent_yes(fake_api, other)
        await act(fake_api, other, lambda: fake_api.press(other, "o:vneid"), 1)
        fake_api.press(other, "ls:s:vneid:0", fake_api.last(other).message_id)
        [heard] = await voice_notes(fake_api, other, 1)
        assert heard.data == voice.data


async def test_telegram_a_resident_s_voice_note_is_never_downloaded(fake_api, assistant, sessions):
    resident, official = 6104, 6105
    async with running_bot(fake_api, assistant):
        await consent_yes(fake_api, resident)
        await act(fake_api, resident, lambda: fake_api.send_voice_note(resident, tone()), 1)
        assert CANNOT_LISTEN in fake_api.last(resident).text
        # An official who has not asked to record (/ghiam) is no different.
        await consent_yes(fake_api, official)
        make_official(sessions, "telegram", str(official))
        await act(fake_api, official, lambda: fake_api.send_voice_note(official, tone()), 1)
        assert CANNOT_LISTEN in fake_api.last(official).text
        # /ghiam from a resident is refused; the voice note after it is not fetched either.
        await act(fake_api, resident, lambda: fake_api.send_text(resident, "/ghiam vneid 1"), 1)
        assert fake_api.last(resident).text.startswith(_("Only the commune's and villages' officials can record "
                                                         "lessons. To hear a lesson, tap «🔊 Listen» under any step."))
        await act(fake_api, resident, lambda: fake_api.send_voice_note(resident, tone()), 1)
        assert CANNOT_LISTEN in fake_api.last(resident).text
    assert fake_api.calls_of("getFile") == [] and recordings(sessions) == []
    assert not [name for name, _params in fake_api.calls if name.lower().startswith("getfile")]


# ---- Zalo ----------------------------------------------------------------------------------

ZALO_CHAT = "zl-listen-1"


@pytest.fixture
def zalo():
    """The fake Zalo platform, set up before (and so stopped after) the app that uses it."""
    with FakeZalo() as fake:
        yield fake


def zalo_to_first_step(fake: FakeZalo, replies: int) -> str:
    """Consent, skip the profile, open VNeID; the step's text."""
    say(fake, ZALO_CHAT, "chao ban", replies=2)
    question = say(fake, ZALO_CHAT, "1", replies=2)[-1]                 # consent
    for _question in range(3):                                           # village, group, age
        question = say(fake, ZALO_CHAT, key_for(question, "Bỏ qua"))[-1]
    return say(fake, ZALO_CHAT, key_for(question, "VNeID"), replies=replies)[-1]


def test_zalo_hears_a_step_from_the_public_address(zalo, serve_app, assistant, knowledge, vneid):
    base = serve_app(public=True, **zalo_env(zalo))
    with httpx.Client(base_url=base, timeout=30) as client:
        wait_zalo_ready(client)
        first = vneid.steps[0]
        step = zalo_to_first_step(zalo, replies=2)
        photo, text = zalo.chat(ZALO_CHAT)[-2:]
        assert photo.kind == "photo" and photo.text == first.caption
        assert photo.photo == f"{base}/media/images/vi/{first.image}"
        got = client.get(photo.photo)
        assert got.status_code == 200 and got.content == (knowledge.root / "vi" / "images" / first.image).read_bytes()
        assert text.kind == "text" and text.text == step and first.title in step
        # "Nghe" is a choice after the step's own ("1 – Tiếp" keeps its key).
        key = key_for(step, LISTEN.split(" ", 1)[1])
        assert choices(step)[key] == LISTEN and int(key) > int(key_for(step, "Tiếp"))

        assert say(zalo, ZALO_CHAT, key) == [""]
        voice = zalo.last(ZALO_CHAT)
        [call] = zalo.calls_of("sendVoice")
        assert call == {"chat_id": ZALO_CHAT, "voice": voice.voice}
        assert voice.kind == "voice" and voice.voice.startswith(f"{base}/media/audio/")
        assert voice.voice.endswith(".m4a") and voice.data_type == "audio/mp4"
        found = audio.probe(voice.data)
        characters = len(speakable(step_speech("vi", vneid, 0).text))
        assert found.codec == "aac" and PER_CHAR[0] * characters < found.seconds < PER_CHAR[1] * characters


def test_zalo_offers_no_listening_without_a_public_address(zalo, serve_app):
    base = serve_app(**zalo_env(zalo))
    with httpx.Client(base_url=base, timeout=30) as client:
        wait_zalo_ready(client)
        step = zalo_to_first_step(zalo, replies=1)           # the text alone: no picture either
        assert [m.kind for m in zalo.chat(ZALO_CHAT)][-1] == "text"
        offered = choices(step)
        assert offered and not [label for label in offered.values() if "Nghe" in label or "🔊" in label]
        settings = say(zalo, ZALO_CHAT, "/caidat")[-1]
        assert "🔊" not in settings and _("🔊 I want to listen").split(" ", 1)[1] not in settings
    assert zalo.calls_of("sendVoice") == [] and zalo.calls_of("sendPhoto") == []


def test_the_fake_zalo_fetches_the_voice_it_is_sent(zalo):
    """sendVoice, as the fake plays it: a URL that does not serve sound is refused, and nothing is
    recorded as sent."""
    for voice, why in (("", "voice is required"), ("giong-noi.m4a", "URL"),
                       (f"{zalo.url}/media/audio/khong-co.m4a", "HTTP 404"),
                       (f"{zalo.bot_url}/getMe", "not audio")):
        answer = httpx.post(f"{zalo.bot_url}/sendVoice", json={"chat_id": ZALO_CHAT, "voice": voice}, timeout=10)
        body = answer.json()
        assert answer.status_code == 400 and body["ok"] is False and why in body["description"], (voice, body)
    assert httpx.post(f"{zalo.bot_url}/sendVoice", json={"voice": f"{zalo.bot_url}/getMe"}).status_code == 400
    assert zalo.chat(ZALO_CHAT) == [] and len(zalo.calls_of("sendVoice")) == 5


def test_zalo_an_official_records_a_step_from_a_voice_message(zalo, serve_app, assistant, sessions, vneid):
    """Zalo hands the bot a voice message as an address; the bot fetches it only for an official
    after /ghiam (here the address is one our own app serves, as a phone's AAC)."""
    base = serve_app(public=True, **zalo_env(zalo))
    name = "ab" * 16 + ".m4a"
    assistant.media.cache_dir.mkdir(parents=True, exist_ok=True)
    (assistant.media.cache_dir / name).write_bytes(audio.encode(*tone_samples(), audio.AAC))
    with httpx.Client(base_url=base, timeout=30) as client:
        wait_zalo_ready(client)
        zalo_to_first_step(zalo, replies=2)
        # A resident's voice message is not fetched: the usual answer, nothing stored.
        before = zalo.reply_count(ZALO_CHAT)
        zalo.send_voice(ZALO_CHAT, voice=f"{base}/media/audio/{name}")
        zalo.wait_for_sync(lambda: zalo.reply_count(ZALO_CHAT) > before, 15)
        assert CANNOT_LISTEN in zalo.texts(ZALO_CHAT)[-1] and recordings(sessions) == []
        make_official(sessions, "zalo", ZALO_CHAT)
        [asked] = say(zalo, ZALO_CHAT, "/ghiam vneid 2")
        assert vneid.steps[1].title in asked
        before = zalo.reply_count(ZALO_CHAT)
        zalo.send_voice(ZALO_CHAT, voice=f"{base}/media/audio/{name}")
        zalo.wait_for_sync(lambda: zalo.reply_count(ZALO_CHAT) > before, 15)
        assert zalo.texts(ZALO_CHAT)[-1].startswith("✅")
        [stored] = recordings(sessions)
        assert stored.key == f"vneid/{vneid.steps[1].id}" and stored.seconds == pytest.approx(TONE_SECONDS, abs=0.15)
        heard = assistant.media.voice(step_speech("vi", vneid, 1), audio.AAC)
        assert heard.source == "recording"


def tone_samples():
    """The test tone as samples (tests.test_listen.tone gives it encoded as Opus)."""
    return audio.decode(tone(), 48000)
