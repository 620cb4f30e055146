"""Lessons to listen to: which parts have a recording or a picture (/media), and officials'
recordings uploaded as the request's body (/recordings/<language>/<key>)."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from admin_api.deps import Caller, allow, audit, get_knowledge, get_session, require_admin
from admin_api.errors import ApiError
from admin_api.schemas import PartMediaOut, RecordingOut
from bot.content.media_check import AUDIO_MAX_BYTES
from bot.i18n import N_
from bot.media import recordings
from bot.media.inventory import inventory, known_keys, recordable

router = APIRouter(tags=["recordings"])
KEY = Path(max_length=120, pattern=r"^[a-z0-9][a-z0-9/_-]*$", description="a lesson part: <course>/<step id>, "
           "<course>/quiz/<question id> or faq/<entry id>")
LANGUAGE = Path(max_length=8, pattern=r"^[a-z]{2,3}$")
SOUND_TYPES = ("audio/", "application/octet-stream", "video/mp4", "video/ogg")
PROBLEMS = {recordings.TOO_BIG: N_("The recording is larger than 2 MB"),
            recordings.NOT_SOUND: N_("The body is not a sound file that can be played"),
            recordings.TOO_LONG: N_("The recording is longer than 10 minutes")}


@router.get("/media", response_model=list[PartMediaOut], dependencies=[Depends(allow("admin", "village", "viewer"))])
def list_media(request: Request, language: str | None = Query(None, max_length=8),
               session: Session = Depends(get_session), knowledge=Depends(get_knowledge)):
    """Every lesson part per language: its recording ("upload", "file" or none) and its picture."""
    rows = inventory(knowledge, session, request.app.state.assistant.media)
    return [PartMediaOut.model_validate(row) for row in rows if language in (None, row.language)]


@router.put("/recordings/{language}/{key:path}", response_model=RecordingOut,
            openapi_extra={"requestBody": {"required": True, "description": "the sound file itself, at most 2 MB, "
                                           "with its own type (audio/ogg, audio/mp4, audio/mpeg, audio/wav…) or "
                                           "application/octet-stream",
                                           "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                                "format": "binary"}}}}})
async def upload_recording(request: Request, language: str = LANGUAGE, key: str = KEY,
                           caller: Caller = Depends(require_admin), session: Session = Depends(get_session),
                           knowledge=Depends(get_knowledge)):
    """A person's recording of one lesson part: heard instead of the computer voice from now on."""
    check_part(knowledge, language, key)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(SOUND_TYPES):
        raise ApiError(415, N_("Send the sound file itself as the body, with a Content-Type like audio/ogg"),
                       field="Content-Type")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > AUDIO_MAX_BYTES:
            raise ApiError(413, PROBLEMS[recordings.TOO_BIG], field="body")
    return await run_in_threadpool(keep, session, caller, language, key, bytes(data))


def keep(session: Session, caller: Caller, language: str, key: str, data: bytes) -> RecordingOut:
    problem, seconds = recordings.check(data)
    if problem is not None:
        raise ApiError(413 if problem == recordings.TOO_BIG else 422, PROBLEMS[problem], field="body")
    row = recordings.store(session, language, key, data, seconds, "api", datetime.now(timezone.utc))
    audit(session, caller, "recording.upload", f"recording {language}/{key}", {"seconds": round(seconds, 1)})
    session.commit()
    return RecordingOut.model_validate(row)


@router.delete("/recordings/{language}/{key:path}", status_code=204)
def delete_recording(language: str = LANGUAGE, key: str = KEY, caller: Caller = Depends(require_admin),
                     session: Session = Depends(get_session), knowledge=Depends(get_knowledge)) -> Response:
    """Back to the computer voice (or to a recording file in knowledge/) for this part."""
    check_part(knowledge, language, key)
    if not recordings.remove(session, language, key):
        raise ApiError(404, N_("No uploaded recording for this part"), field="key")
    audit(session, caller, "recording.delete", f"recording {language}/{key}")
    session.commit()
    return Response(status_code=204)


def check_part(knowledge, language: str, key: str) -> None:
    if language not in recordable(knowledge):
        raise ApiError(404, N_("No language with this code"), field="language")
    if key not in known_keys(knowledge):
        raise ApiError(404, N_("No lesson part with this key"), field="key")
