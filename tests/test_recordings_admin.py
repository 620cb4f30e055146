"""Officials' recordings outside the bot: the admin API (PUT/DELETE /api/v1/recordings/<language>/<key>,
GET /api/v1/media) over HTTP, the console's page, and `hocvuso content media`, on SQLite and
PostgreSQL. The recording uploaded is then what residents hear for that step."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from bot.config import REPO_ROOT
from bot.media.audio import OPUS, encode, probe
from bot.media.keys import step_key, step_speech
from bot.models import AuditEntry, Recording
from bot.web import create_app
from tests.console_helpers import console_server
from tests.test_admin_api import ADMIN, api, bearer, make_token  # noqa: F401 - the api fixture

SECOND = 48000


def tone(seconds: float, hz: float = 440.0) -> bytes:
    """A recording as a phone makes one: OGG/Opus, here a plain tone of a known length."""
    t = np.arange(int(seconds * SECOND)) / SECOND
    return encode((np.sin(2 * np.pi * hz * t) * 12000).astype(np.int16), SECOND, OPUS)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.fixture
def vneid(knowledge):
    return knowledge.pack("vi").courses["vneid"]


def test_an_uploaded_recording_is_what_residents_hear(api, assistant, sessions, vneid):
    key = step_key("vneid", vneid.steps[2].id)
    done = api.put(f"/api/v1/recordings/vi/{key}", content=tone(2.0), headers={"Content-Type": "audio/ogg"})
    assert done.status_code == 200, done.text
    assert done.json()["key"] == key and abs(done.json()["seconds"] - 2.0) < 0.1 and done.json()["source"] == "api"
    media = {row["key"]: row for row in api.get("/api/v1/media", params={"language": "vi"}).json()}
    assert media[key]["recording"] == "upload" and media[step_key("vneid", vneid.steps[3].id)]["recording"] is None
    assert media[step_key("vneid", vneid.steps[0].id)]["picture"] == vneid.steps[0].image
    heard = assistant.media.voice(step_speech("vi", vneid, 2), OPUS)
    assert heard.source == "recording" and abs(probe(heard.path.read_bytes()).seconds - 2.0) < 0.1
    with sessions() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.subject == f"recording vi/{key}")) \
            == "recording.upload"
    # A new upload replaces it; DELETE goes back to the computer voice.
    assert api.put(f"/api/v1/recordings/vi/{key}", content=tone(3.0), headers={"Content-Type": "audio/ogg"}) \
        .json()["seconds"] > 2.9
    assert api.delete(f"/api/v1/recordings/vi/{key}").status_code == 204
    assert error_of(api.delete(f"/api/v1/recordings/vi/{key}"), 404)["field"] == "key"
    assert assistant.media.voice(step_speech("vi", vneid, 2), OPUS).source == "speech"


def test_bad_uploads_name_the_field_and_keep_nothing(api, sessions, vneid):
    key = step_key("vneid", vneid.steps[1].id)
    ogg = {"Content-Type": "audio/ogg"}
    assert error_of(api.put("/api/v1/recordings/vi/vneid/khong-co", content=tone(1), headers=ogg), 404)["field"] == "key"
    assert error_of(api.put(f"/api/v1/recordings/xx/{key}", content=tone(1), headers=ogg), 404)["field"] == "language"
    assert error_of(api.put(f"/api/v1/recordings/vi/{key}", content=b"hello", headers={"Content-Type": "text/plain"}),
                    415)["field"] == "Content-Type"
    not_sound = error_of(api.put(f"/api/v1/recordings/vi/{key}", content=b"not a sound" * 50, headers=ogg), 422)
    assert not_sound["field"] == "body" and not_sound["message"]["vi"]
    too_big = error_of(api.put(f"/api/v1/recordings/vi/{key}", content=b"\0" * (2 * 1024 * 1024 + 1), headers=ogg), 413)
    assert too_big["field"] == "body"
    viewer = make_token(sessions, "viewer")
    assert error_of(api.put(f"/api/v1/recordings/vi/{key}", content=tone(1), headers={**ogg, **bearer(viewer)}),
                    403)["field"] == "Authorization"
    assert api.get("/api/v1/media", headers=bearer(viewer)).status_code == 200
    with sessions() as session:
        assert session.scalar(select(Recording.key)) is None


def test_the_console_uploads_and_removes_a_recording(settings_for, assistant, sessions, vneid):
    key = step_key("vneid", vneid.steps[4].id)
    with console_server(create_app(settings_for(), assistant), sessions) as console:
        admin, csrf = console.signed_in("admin")
        page = admin.get("/admin/recordings")
        assert page.status_code == 200 and vneid.steps[4].title in page.text and "giọng máy" in page.text
        sent = admin.post(f"/admin/recordings/vi/{key}", data={"csrf": csrf},
                          files={"sound": ("buoc-5.ogg", tone(1.5), "audio/ogg")})
        assert sent.status_code == 303, sent.text
        after = admin.get(sent.headers["location"])
        assert "bản ghi của cán bộ" in after.text and "Đã lưu" in after.text
        assert assistant.media.voice(step_speech("vi", vneid, 4), OPUS).source == "recording"
        # Not a sound: said on the page, nothing changed.
        bad = admin.post(f"/admin/recordings/vi/{key}", data={"csrf": csrf},
                         files={"sound": ("ghi-chu.txt", b"hello" * 100, "text/plain")})
        assert bad.status_code == 422 and "không phải tệp âm thanh" in bad.text
        # A village official sees the page but has no upload form and cannot post one.
        village, village_csrf = console.signed_in("village", "kv-tong-lanh")
        seen = village.get("/admin/recordings")
        assert seen.status_code == 200 and 'type="file"' not in seen.text
        refused = village.post(f"/admin/recordings/vi/{key}", data={"csrf": village_csrf},
                               files={"sound": ("x.ogg", tone(1), "audio/ogg")})
        assert refused.status_code == 403
        removed = admin.post(f"/admin/recordings/vi/{key}", data={"csrf": csrf, "remove": "1"})
        assert removed.status_code == 303
    assert assistant.media.voice(step_speech("vi", vneid, 4), OPUS).source == "speech"


def test_content_media_lists_recordings_and_pictures(api, database_url, vneid):
    key = step_key("vneid", vneid.steps[5].id)
    assert api.put(f"/api/v1/recordings/vi/{key}", content=tone(1), headers={"Content-Type": "audio/ogg"}) \
        .status_code == 200
    env = {**os.environ, "HOCVUSO_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "content", "media"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"vi/vneid: 1 of {len(vneid.steps) + len(vneid.quiz.questions)} recorded, 1 with a picture" in lines
    assert any(line.split()[:1] == [key] and "uploaded" in line for line in lines)
    first = step_key("vneid", vneid.steps[0].id)
    assert any(line.split()[:1] == [first] and vneid.steps[0].image in line for line in lines)
