"""Lessons to listen to and look at, in the core and over HTTP: the synthesized voice (eSpeak NG,
encoded with PyAV), its disk cache, officials' recordings (/ghiam), "🔊 Nghe" and "Tôi muốn nghe",
the web chat's /media/ files, and `content check` on pictures and recordings.

Durations are measured by decoding the files (bot.media.audio.probe), never taken from the code
that made them. Expected texts come from knowledge/ and the message catalog."""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import sys
import wave

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.assistant import Assistant
from bot.config import REPO_ROOT
from bot.content import load_knowledge
from bot.content.media_check import AUDIO_MAX_BYTES, IMAGE_MAX_BYTES
from bot.i18n import translator
from bot.media import audio
from bot.media.audio import AAC, OPUS
from bot.media.keys import faq_speech, question_speech, step_speech
from bot.media.library import CACHE_NAME, MediaLibrary
from bot.media.speech import RATE, Speaker, speakable
from bot.models import Recording, Resident
from bot.replies import Contact, Incoming, Speech
from bot.web import create_app
from tests.core_helpers import Chat, data_of
from tests.http_helpers import serving
from tests.test_content import broken, located  # noqa: F401  (fixture)

_ = translator("vi")
LISTEN = _("🔊 Listen")
WANT_TO_LISTEN = _("🔊 I want to listen")
STOP_LISTENING = _("🔇 Stop sending the audio with each step")
VNEID = "vi/courses/vneid.yaml"
# Seconds of speech per character of speakable text: at 130 words a minute eSpeak NG reads some
# 10 characters a second; below 0.04 s it would gabble (or be cut), above 0.2 s it would crawl.
PER_CHAR = (0.04, 0.2)
TONE_SECONDS = 2.0
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)


def tone(seconds: float = TONE_SECONDS, fmt=OPUS, rate: int = 48000) -> bytes:
    """A recording as a phone makes one: a 440 Hz tone, as OGG/Opus (or `fmt`)."""
    t = np.arange(int(seconds * rate)) / rate
    return audio.encode((np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16), rate, fmt)


def seconds_of(path_or_bytes) -> audio.Probe:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return audio.probe(data)


@pytest.fixture
def vneid(knowledge):
    return knowledge.pack("vi").courses["vneid"]


def listen_to(assistant, contact: Contact, data: str) -> Speech:
    """Press a "🔊 Nghe" button: the reply is the sound alone."""
    [reply] = assistant.handle(contact, Incoming.button(data))
    assert reply.text == "" and reply.buttons == [] and reply.image is None
    assert isinstance(reply.audio, Speech)
    return reply.audio


def make_official(sessions, contact: Contact) -> None:
    with sessions.begin() as session:
        changed = session.execute(update(Resident).where(
            Resident.platform == contact.platform, Resident.external_id == contact.external_id).values(official=True))
        assert changed.rowcount == 1


def recordings(sessions) -> list[Recording]:
    with sessions() as session:
        return session.scalars(select(Recording)).all()


# ---- the synthesized voice and its files ---------------------------------------------------

def test_a_vneid_step_is_heard_as_opus_and_aac_at_a_slow_pace(assistant, vneid):
    speech = step_speech("vi", vneid, 0)
    assert speech.key == f"vneid/{vneid.steps[0].id}"
    assert vneid.steps[0].title in speech.text and vneid.steps[0].text.strip() in speech.text
    characters = len(speakable(speech.text))
    lengths = {}
    for fmt, codec, container in ((OPUS, "opus", "ogg"), (AAC, "aac", "mp4")):
        voice = assistant.media.voice(speech, fmt)
        assert voice is not None, f"no {fmt.name} file for the step (see the warning logged)"
        assert voice.source == "speech" and voice.fmt is fmt
        assert CACHE_NAME.match(voice.name) and voice.name.endswith("." + fmt.extension)
        assert voice.path.parent == assistant.media.cache_dir
        found = seconds_of(voice.path)
        assert found.codec == codec and container in found.container.split(","), found
        assert PER_CHAR[0] * characters < found.seconds < PER_CHAR[1] * characters, (fmt.name, found, characters)
        lengths[fmt.name] = found.seconds
    # One text, one length, in either format (the encoders pad a few milliseconds at most).
    assert abs(lengths["opus"] - lengths["aac"]) < 0.25, lengths
    # Small enough for a weak 3G signal: well under the 2 MB a recording may have.
    assert all(p.stat().st_size < AUDIO_MAX_BYTES / 2 for p in assistant.media.cache_dir.iterdir())


def test_the_voice_reads_slower_than_espeak_s_usual_pace(vneid):
    """RATE words a minute is slower than eSpeak NG's default 175: the same text takes clearly
    longer, and stays under 175 syllables a minute (Vietnamese words are single syllables)."""
    text = step_speech("vi", vneid, 8).text
    speaker = Speaker()
    slow, rate = speaker.speak(text, "vi")
    usual, usual_rate = speaker.speak(text, "vi", rate=175)
    assert speaker.calls == 2 and RATE < 175
    slow_seconds, usual_seconds = slow.size / rate, usual.size / usual_rate
    assert slow_seconds > 1.2 * usual_seconds, (slow_seconds, usual_seconds)
    syllables = len(re.findall(r"\w+", speakable(text)))
    assert syllables / (slow_seconds / 60) < 175, syllables / (slow_seconds / 60)


def test_a_sound_of_any_length_encodes_in_both_formats():
    """eSpeak NG's output varies by some hundred samples from one synthesis of a text to the next, so
    a step's sound may have any length. Every length must make a playable file in both formats:
    one resampling period (1024 AAC samples at 24 kHz) of lengths at eSpeak's 22,050 Hz."""
    noise = (np.random.default_rng(3).standard_normal(8000) * 3000).astype(np.int16)
    period = 1024 * 22050 // 24000 + 1
    failed = {}
    # Every 8th length over one AAC period; Opus (960-sample frames at 48 kHz) every 24th.
    for n in range(6000, 6000 + period + 20, 8):
        for fmt in (AAC, OPUS) if n % 24 == 0 else (AAC,):
            try:
                found = audio.probe(audio.encode(noise[:n], 22050, fmt))
            except Exception as exc:   # noqa: BLE001 - which lengths fail, and how, is the finding
                failed[(fmt.name, n)] = type(exc).__name__
                continue
            assert found.seconds == pytest.approx(n / 22050, abs=0.1), (fmt.name, n, found)
    assert failed == {}, f"{len(failed)} lengths could not be encoded: {sorted(failed.items())[:6]}"


def test_a_long_sound_is_encoded_a_second_at_a_time():
    """The encoder is fed a second of sound at a time (issue 18: a minute-long step turned into
    frames all at once raised the serving process's peak by 30-45 MB). Measured in a fresh process,
    whose peak is its own; and the file is as long as the sound wherever the last second ends."""
    code = ("import numpy as np; from pathlib import Path; from bot.media import audio\n"
            "def peak(): return int(next(l for l in Path('/proc/self/status').read_text().splitlines()\n"
            "                           if l.startswith('VmHWM:')).split()[1]) // 1024\n"
            "noise = (np.random.default_rng(5).standard_normal(22050 * 68) * 3000).astype(np.int16)\n"
            "for fmt in (audio.OPUS, audio.AAC): audio.encode(noise[:22050], 22050, fmt)\n"
            "before = peak()\n"
            "for fmt in (audio.OPUS, audio.AAC): audio.encode(noise, 22050, fmt)\n"
            "print(peak() - before)")
    grown = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert int(grown.stdout) < 12, grown.stdout   # MB; 36 to 49 when a step was encoded in one piece
    noise = (np.random.default_rng(4).standard_normal(22050 * 5) * 3000).astype(np.int16)
    for n in (22050 * 3, 22050 * 3 + 1, 22050 * 3 + 1023, 22050 * 5 - 1):
        for fmt in (OPUS, AAC):
            found = audio.probe(audio.encode(noise[:n], 22050, fmt))
            assert found.seconds == pytest.approx(n / 22050, abs=0.05), (fmt.name, n, found)


def test_a_recording_of_any_length_is_heard_on_every_channel(assistant, sessions, vneid):
    """A 2.005 s WAV recording (96,258 samples at 48 kHz, as a phone's recorder may save it): the
    AAC for Zalo and the web chat is made like the voice note for Telegram."""
    t = np.arange(96258) / 48000
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(48000)
        wav.writeframes((np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes())
    recording = out.getvalue()
    assert audio.probe(recording).codec.startswith("pcm_")
    chat = consented(assistant, sessions, "7004", official=True)
    chat.cmd("ghiam", "vneid 3")
    [saved] = assistant.handle(chat.contact, Incoming.recording(recording))
    assert saved.text.startswith("✅")
    speech = step_speech("vi", vneid, 2)
    for fmt in (OPUS, AAC):
        voice = assistant.media.voice(speech, fmt)
        assert voice is not None and voice.source == "recording", fmt.name
        assert seconds_of(voice.path).seconds == pytest.approx(96258 / 48000, abs=0.1)


def test_the_cache_makes_each_file_once_and_again_after_an_edit(assistant, vneid):
    media = assistant.media
    speech = step_speech("vi", vneid, 8)
    before = media.speaker.calls
    first = media.voice(speech, OPUS)
    assert media.speaker.calls == before + 1
    made = first.path.stat().st_mtime_ns, first.path.read_bytes()
    again = media.voice(speech, OPUS)
    assert again.path == first.path and media.speaker.calls == before + 1    # a hit: nothing synthesized
    assert (again.path.stat().st_mtime_ns, again.path.read_bytes()) == made  # nor written again
    # Served by its name only; a name that is not in the cache, or not a cache name, is nothing.
    assert media.cached_file(first.name) == first.path
    assert media.cached_file("0" * 32 + ".ogg") is None and media.cached_file("../" + first.name) is None

    # The step's text is edited (same key): a miss, a new file; the old one stays for whoever has it.
    edited = Speech(speech.language, speech.key, speech.text + "\nBạn nhớ giữ kín mật khẩu nhé.")
    changed = media.voice(edited, OPUS)
    assert changed.path != first.path and changed.path.is_file() and first.path.is_file()
    assert media.speaker.calls == before + 2
    assert seconds_of(changed.path).seconds > seconds_of(first.path).seconds + 1   # the new sentence is in it
    assert media.voice(edited, OPUS).path == changed.path and media.speaker.calls == before + 2
    # Where the file lives does not matter: a second library on the same folder finds it (no synthesis).
    other = MediaLibrary(assistant.knowledge, None, media.cache_dir, speaker=Speaker())
    assert other.voice(edited, OPUS).path == changed.path and other.speaker.calls == 0


# ---- officials' recordings -----------------------------------------------------------------

def consented(assistant, sessions, external_id: str, official: bool) -> Chat:
    chat = Chat(assistant, external_id, platform="telegram")
    chat.consent_and_skip_profile()
    if official:
        make_official(sessions, chat.contact)
    return chat


def test_an_official_s_recording_replaces_the_computer_voice(assistant, sessions, vneid):
    chat = consented(assistant, sessions, "7001", official=True)
    step = vneid.steps[0]
    speech = step_speech("vi", vneid, 0)
    assert assistant.media.voice(speech, OPUS).source == "speech"

    [asked] = chat.cmd("ghiam", "vneid 1")
    assert step.title in asked.text and VIETNAMESE.search(asked.text)
    recording = tone()
    [saved] = assistant.handle(chat.contact, Incoming.recording(recording))
    assert saved.text.startswith("✅") and VIETNAMESE.search(saved.text)
    assert "ls:s:vneid:0" in data_of([saved])            # hear it back at once
    [stored] = recordings(sessions)
    assert (stored.language, stored.key, stored.source) == ("vi", speech.key, "bot")
    assert stored.data == recording and stored.sha256 == hashlib.sha256(recording).hexdigest()
    assert stored.seconds == pytest.approx(TONE_SECONDS, abs=0.1)

    calls = assistant.media.speaker.calls
    heard = listen_to(assistant, chat.contact, "ls:s:vneid:0")
    assert heard == speech
    for fmt, codec in ((OPUS, "opus"), (AAC, "aac")):
        voice = assistant.media.voice(heard, fmt)
        assert voice.source == "recording"
        found = seconds_of(voice.path)
        assert found.codec == codec and found.seconds == pytest.approx(TONE_SECONDS, abs=0.15), found
    assert assistant.media.speaker.calls == calls     # nothing synthesized for a recorded step
    # Other steps keep the computer voice.
    assert assistant.media.voice(step_speech("vi", vneid, 1), OPUS).source == "speech"

    # A step named by its id, and a second recording replacing the first (one per step and language).
    [asked] = chat.cmd("ghiam", f"vneid {step.id}")
    assert step.title in asked.text
    longer = tone(3.0)
    [saved] = assistant.handle(chat.contact, Incoming.recording(longer))
    assert saved.text.startswith("✅")
    [stored] = recordings(sessions)
    assert stored.data == longer and stored.seconds == pytest.approx(3.0, abs=0.1)
    assert seconds_of(assistant.media.voice(speech, OPUS).path).seconds == pytest.approx(3.0, abs=0.15)


def test_a_resident_who_is_not_an_official_cannot_record(assistant, sessions):
    chat = consented(assistant, sessions, "7002", official=False)
    [refused] = chat.cmd("ghiam", "vneid 1")
    assert refused.text == _("Only the commune's and villages' officials can record lessons. To hear a lesson, "
                             "tap «🔊 Listen» under any step.")
    assert VIETNAMESE.search(refused.text)
    # A voice note after that is just a voice note: the bot cannot listen to it, and keeps nothing.
    [answer] = assistant.handle(chat.contact, Incoming.recording(tone()))
    assert _("I cannot listen to voice messages yet.") in answer.text
    assert recordings(sessions) == []
    with sessions() as session:
        assert session.scalar(select(Resident.recording_for).where(Resident.external_id == "7002")) is None


def test_a_bad_recording_is_refused_kindly_and_nothing_is_kept(assistant, sessions, vneid):
    chat = consented(assistant, sessions, "7003", official=True)
    [wrong] = chat.cmd("ghiam", "vneid 99")          # no such step: how to say it, nothing awaited
    assert "/ghiam" in wrong.text and "vneid" in wrong.text
    assert not assistant.awaits_recording(chat.contact)
    chat.cmd("ghiam", "vneid 2")
    assert assistant.awaits_recording(chat.contact)
    sorry = _("I could not use that recording: {problem}. Please send it again.")
    too_big = tone() + bytes(AUDIO_MAX_BYTES)
    for incoming, problem in ((Incoming.recording(too_big), "it is larger than 2 MB"),
                              (Incoming.recording(b"", too_large=True), "it is larger than 2 MB"),
                              (Incoming.recording(b"Xin chao, day khong phai am thanh." * 40),
                               "it is not a sound file I can play"),
                              (Incoming.recording(b""), "it is not a sound file I can play")):
        [reply] = assistant.handle(chat.contact, incoming)
        assert reply.text == sorry.format(problem=_(problem)), reply.text
        assert reply.text != sorry.format(problem=problem) and VIETNAMESE.search(reply.text)  # in Vietnamese
        assert recordings(sessions) == []
        assert assistant.awaits_recording(chat.contact)    # the official may simply send it again
    assert assistant.media.voice(step_speech("vi", vneid, 1), OPUS).source == "speech"
    # Then a good one is taken.
    [saved] = assistant.handle(chat.contact, Incoming.recording(tone()))
    assert saved.text.startswith("✅") and len(recordings(sessions)) == 1
    assert not assistant.awaits_recording(chat.contact)


# ---- "🔊 Nghe" and "Tôi muốn nghe" ------------------------------------------------------------

def test_listen_buttons_under_steps_questions_and_answers(assistant, knowledge, vneid):
    pack = knowledge.pack("vi")
    chat = Chat(assistant, "7010", platform="telegram")
    chat.consent_and_skip_profile()
    [step] = chat.tap("o:vneid")
    assert [b.label for b in step.buttons[0]] == [LISTEN] and step.buttons[0][0].data == "ls:s:vneid:0"
    assert listen_to(assistant, chat.contact, "ls:s:vneid:0") == step_speech("vi", vneid, 0)
    [step] = chat.press("s:vneid:3")
    assert "ls:s:vneid:3" in data_of([step])
    assert listen_to(assistant, chat.contact, "ls:s:vneid:3") == step_speech("vi", vneid, 3)

    replies = chat.press("q:vneid")
    assert "ls:q:vneid:0" in data_of(replies)
    heard = listen_to(assistant, chat.contact, "ls:q:vneid:0")
    question = vneid.quiz.questions[0]
    assert heard == question_speech("vi", vneid, 0) and heard.key == f"vneid/quiz/{question.id}"
    assert question.question in heard.text and all(option in heard.text for option in question.options)

    entry = pack.faq[0]
    replies = chat.text(entry.question)
    [faq_data] = [d for d in data_of(replies) if d.startswith("ls:f:")]
    shown = next(e for e in pack.faq if e.id == faq_data.split(":")[2])
    assert shown.answer in "\n".join(r.text for r in replies)
    assert listen_to(assistant, chat.contact, faq_data) == faq_speech("vi", shown)

    # A button of a step that is no longer there (the lesson was edited) says so, with the menu.
    [gone] = assistant.handle(chat.contact, Incoming.button(f"ls:s:vneid:{len(vneid.steps)}"))
    assert gone.audio is None and gone.text and "m" in data_of([gone])


def test_no_listen_button_where_no_sound_can_be_played(assistant, vneid):
    chat = Chat(assistant, "7011", platform="terminal")
    chat.consent_and_skip_profile()
    assert "lm:1" not in data_of(chat.last)
    [step] = chat.tap("o:vneid")
    assert not [d for d in data_of([step]) if d.startswith("ls:")] and step.audio is None
    [settings] = chat.cmd("caidat")
    assert not {"lm:1", "lm:0"} & set(data_of([settings]))
    [reply] = assistant.handle(chat.contact, Incoming.button("ls:s:vneid:0"))
    assert reply.audio is None and reply.text and VIETNAMESE.search(reply.text)


def test_i_want_to_listen_sends_each_step_with_its_audio(assistant, sessions, vneid):
    chat = Chat(assistant, "7012", platform="telegram")
    chat.consent_and_skip_profile()
    # Offered at the end of the profile, and kept in /caidat.
    assert "lm:1" in data_of(chat.last)
    [step] = chat.tap("o:vneid")
    assert step.audio is None
    [settings] = chat.cmd("caidat")
    assert "lm:1" in data_of([settings]) and WANT_TO_LISTEN in [b.label for row in settings.buttons for b in row]
    [settings] = chat.tap("lm:1")
    assert "lm:0" in data_of([settings]) and "lm:1" not in data_of([settings])
    assert STOP_LISTENING in [b.label for row in settings.buttons for b in row]
    assert _("🔊 Each lesson step comes with its audio: you can listen instead of reading.") in settings.text
    with sessions() as session:
        assert session.scalar(select(Resident.listen).where(Resident.external_id == "7012")) is True

    chat.cmd("menu")
    [first] = chat.tap("o:vneid")
    assert first.audio == step_speech("vi", vneid, 0) and first.image is not None and first.text
    [second] = chat.tap("s:vneid:1")
    # Text first, then the sound: new messages, not an edit of the last step.
    assert second.audio == step_speech("vi", vneid, 1) and second.edit is False
    assert vneid.steps[1].title in second.text

    [settings] = chat.cmd("caidat")
    [settings] = chat.tap("lm:0")
    assert "lm:1" in data_of([settings])
    [third] = chat.press("s:vneid:2")
    assert third.audio is None and third.edit is True


# ---- the web chat over HTTP ----------------------------------------------------------------

@pytest.fixture
def web(settings_for, assistant):
    with serving(create_app(settings_for(), assistant)) as client:
        yield client


def web_send(client: httpx.Client, session: str, **body) -> list[dict]:
    response = client.post("/chat/api/send", json={"session": session, **body})
    assert response.status_code == 200, response.text
    return response.json()["replies"]


def test_web_chat_plays_a_step_and_serves_its_files(web, assistant, knowledge, vneid):
    session = "web-listen-0123456789abcdef"
    web_send(web, session, text="/start")
    for data in ("c:y", "ps:v", "ps:g", "ps:a"):
        web_send(web, session, button=data)
    [step] = web_send(web, session, button="o:vneid")
    assert vneid.steps[0].title in step["text"] and step["audio"] is None
    picture = vneid.steps[0].image
    assert step["image"] == {"src": f"/media/images/vi/{picture}", "caption": vneid.steps[0].caption}
    assert [b["label"] for b in step["buttons"][0]] == [LISTEN]

    [sound] = web_send(web, session, button="ls:s:vneid:0")
    assert sound["text"] == f"🔊 {vneid.steps[0].title}" and sound["buttons"] == [] and sound["image"] is None
    assert [s["type"] for s in sound["audio"]] == ["audio/ogg", "audio/mp4"]
    assert assistant.media.speaker.calls == 1          # one synthesis, encoded in both formats
    characters = len(speakable(step_speech("vi", vneid, 0).text))
    for source, codec in zip(sound["audio"], ("opus", "aac")):
        assert re.fullmatch(r"/media/audio/[0-9a-f]{32}\.(ogg|m4a)", source["src"]), source
        got = web.get(source["src"])
        assert got.status_code == 200 and got.headers["content-type"] == source["type"]
        assert "immutable" in got.headers["cache-control"]
        found = audio.probe(got.content)
        assert found.codec == codec and PER_CHAR[0] * characters < found.seconds < PER_CHAR[1] * characters
    # The same press again: the same files, from the cache.
    [again] = web_send(web, session, button="ls:s:vneid:0")
    assert again["audio"] == sound["audio"] and assistant.media.speaker.calls == 1

    name = sound["audio"][0]["src"].rsplit("/", 1)[1]
    for bad in ("0" * 32 + ".ogg", "f" * 32 + ".m4a", "abc.ogg", name[:-4] + ".mp3", name.upper(),
                "..%2F..%2Fknowledge%2Fvi%2Fassistant.yaml", "%2Fetc%2Fpasswd"):
        assert web.get(f"/media/audio/{bad}").status_code == 404, bad

    image = web.get(step["image"]["src"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (knowledge.root / "vi" / "images" / picture).read_bytes()
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    used = {s.image for c in knowledge.pack("vi").courses.values() for s in c.steps if s.image}
    for name in ("vneid-khong-co.png", picture.replace(".png", ".jpg"), "..%2Fassistant.yaml"):
        assert name not in used
        assert web.get(f"/media/images/vi/{name}").status_code == 404, name
    assert web.get(f"/media/images/en/{picture}").status_code == 404     # no English pack shows it


def test_a_picture_no_step_shows_is_not_served_even_if_its_file_is_there(tmp_path, settings_for, sessions,
                                                                          qa_indexes):
    root = tmp_path / "knowledge"
    shutil.copytree(REPO_ROOT / "knowledge", root)
    knowledge = load_knowledge(root)
    # Put there after the content check (which refuses a picture no step shows), as a stray upload.
    Image.new("RGB", (40, 30), "white").save(root / "vi" / "images" / "rieng-tu.png", "PNG")
    shown = knowledge.pack("vi").courses["vneid"].steps[0].image
    assistant = Assistant(knowledge, sessions, qa=qa_indexes, media_dir=tmp_path / "media")
    with serving(create_app(settings_for(HOCVUSO_KNOWLEDGE_DIR=str(root)), assistant)) as client:
        assert client.get(f"/media/images/vi/{shown}").status_code == 200
        assert client.get("/media/images/vi/rieng-tu.png").status_code == 404


# ---- content check: pictures and recordings ------------------------------------------------

def big_png(path, at_least: int) -> None:
    """A real PNG over `at_least` bytes (noise does not compress)."""
    side = int((at_least / 3) ** 0.5) + 64
    noise = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, "PNG")
    assert path.stat().st_size > at_least


def problem_at(problems: list[str], relative: str, *words: str) -> str:
    """A problem naming this file with no line (a picture or recording file)."""
    hits = [p for p in problems if p.startswith(f"knowledge/{relative}:") and all(w in p for w in words)]
    assert hits, f"expected a problem about knowledge/{relative} mentioning {words}, got {problems}"
    return hits[0]


def give_picture(broken, step_id: str, image: str) -> int:  # noqa: F811
    """Add `image:` (and its caption) to a step of the VNeID file; the image line's number."""
    return broken.edit(VNEID, f"  - id: {step_id}\n",
                       f"  - id: {step_id}\n    image: {image}\n    caption: \"Hình của bước.\"\n") + 1


def test_content_check_names_each_bad_picture(broken, vneid):  # noqa: F811
    images = broken.path / "vi" / "images"
    first = vneid.steps[0].image
    (images / first).unlink()                                              # missing
    second_line = give_picture(broken, vneid.steps[1].id, "vneid-to.png")
    big_png(images / "vneid-to.png", IMAGE_MAX_BYTES)                      # over 1 MB
    third_line = give_picture(broken, vneid.steps[2].id, "vneid-jpeg.png")
    Image.new("RGB", (40, 30), "white").save(images / "vneid-jpeg.png", "JPEG")   # a JPEG named .png
    for step in vneid.steps[3:5]:                                          # two steps, one picture
        shared_line = give_picture(broken, step.id, "vneid-chung.png")
    Image.new("RGB", (40, 30), "white").save(images / "vneid-chung.png", "PNG")
    Image.new("RGB", (40, 30), "white").save(images / "thua.png", "PNG")   # no step shows it
    problems = broken.problems()
    located(problems, VNEID, broken.line_of(VNEID, f"image: {first}"), first, "not found")
    located(problems, VNEID, second_line, "vneid-to.png", "1 MB")
    located(problems, VNEID, third_line, "vneid-jpeg.png", "JPEG", "PNG")
    located(problems, VNEID, shared_line, "vneid-chung.png", "already", f"vneid/{vneid.steps[3].id}")
    problem_at(problems, "vi/images/thua.png", "no step")
    assert len(problems) == 5, problems


def test_content_check_names_each_bad_recording(broken, vneid):  # noqa: F811
    folder = broken.path / "vi" / "audio" / "vneid"
    folder.mkdir(parents=True)
    steps = [s.id for s in vneid.steps]
    (folder / f"{steps[0]}.ogg").write_bytes(tone() + bytes(AUDIO_MAX_BYTES))         # over 2 MB
    (folder / f"{steps[1]}.m4a").write_bytes(b"ID3 this is not sound at all" * 50)   # unplayable
    (folder / "khong-co-buoc-nay.ogg").write_bytes(tone())                           # no such step
    (folder / f"{steps[2]}.txt").write_text("ghi chú", "utf-8")                       # not a recording
    heard_only = broken.path / "tai" / "audio" / "vneid"
    heard_only.mkdir(parents=True)
    (heard_only / "buoc-sai.ogg").write_bytes(tone())                                # misnamed, in tai/
    problems = broken.problems()
    problem_at(problems, f"vi/audio/vneid/{steps[0]}.ogg", "2 MB")
    problem_at(problems, f"vi/audio/vneid/{steps[1]}.m4a", "cannot be played")
    problem_at(problems, "vi/audio/vneid/khong-co-buoc-nay.ogg", "vneid/khong-co-buoc-nay")
    problem_at(problems, f"vi/audio/vneid/{steps[2]}.txt", "not a recording")
    problem_at(problems, "tai/audio/vneid/buoc-sai.ogg", "vneid/buoc-sai")
    assert len(problems) == 5, problems


def test_good_recordings_pass_and_are_heard_in_a_language_only_heard(broken, vneid, tmp_path):  # noqa: F811
    step, other = vneid.steps[0], vneid.steps[1]
    heard_only = broken.path / "tai" / "audio" / "vneid"
    heard_only.mkdir(parents=True)
    (heard_only / f"{step.id}.ogg").write_bytes(tone(2.0))
    (broken.path / "vi" / "audio" / "vneid").mkdir(parents=True)
    (broken.path / "vi" / "audio" / "vneid" / f"{other.id}.m4a").write_bytes(tone(3.0, AAC))
    knowledge = load_knowledge(broken.path)
    assert knowledge.audio_languages == ["tai"] and "tai" not in knowledge.languages
    media = MediaLibrary(knowledge, None, tmp_path / "cache")
    course = knowledge.pack("vi").courses["vneid"]
    thai = step_speech("tai", course, 0)
    voice = media.voice(thai, OPUS)
    assert voice.source == "file" and seconds_of(voice.path).seconds == pytest.approx(2.0, abs=0.15)
    voice = media.voice(step_speech("vi", course, 1), AAC)
    assert voice.source == "file" and seconds_of(voice.path).seconds == pytest.approx(3.0, abs=0.15)
    # A Thái step nobody recorded is read in Vietnamese by the computer voice; so is step 1 in Vietnamese.
    assert media.voice(step_speech("tai", course, 2), OPUS).source == "speech"
    assert media.voice(step_speech("vi", course, 0), OPUS).source == "speech"
    assert media.speaker.calls == 2
