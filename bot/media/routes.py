"""/media/: the lessons' sound files and pictures, served by the app itself (the web chat's player
and pictures load them; Zalo fetches them from HOCVUSO_PUBLIC_URL for sendVoice and sendPhoto).

Sound files are served only from the cache and only by their hashed names; pictures only where a
step names them. Both never change under a name, so phones may keep them for a year.
"""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from bot.i18n import N_
from bot.media.audio import BY_EXTENSION
from bot.replies import Picture

router = APIRouter(prefix="/media", include_in_schema=False)
FOREVER = "public, max-age=31536000, immutable"
PICTURE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
# Said instead of the sound where there is none (no recording, and no voice for the language).
NO_AUDIO = N_("Sorry, I cannot read this part aloud yet. Someone from your village's community digital "
              "technology team can read it with you.")


def audio_path(name: str) -> str:
    return f"/media/audio/{name}"


def picture_path(picture: Picture) -> str:
    return f"/media/images/{picture.language}/{picture.file}"


@router.get("/audio/{name}")
def audio_file(name: str, request: Request) -> FileResponse:
    path = request.app.state.assistant.media.cached_file(name)
    if path is None:
        raise HTTPException(404, detail="no such sound file")
    return FileResponse(path, media_type=BY_EXTENSION[path.suffix[1:]].mime, headers={"Cache-Control": FOREVER})


@router.get("/images/{language}/{name}")
def picture_file(language: str, name: str, request: Request) -> FileResponse:
    knowledge = request.app.state.assistant.knowledge
    pack = knowledge.languages.get(language)
    shown = pack is not None and any(step.image == name for course in pack.courses.values() for step in course.steps)
    path = request.app.state.assistant.media.picture_file(Picture(language, name, "")) if shown else None
    if path is None:
        raise HTTPException(404, detail="no such picture")
    return FileResponse(path, media_type=PICTURE_TYPES[name.rsplit(".", 1)[1]], headers={"Cache-Control": FOREVER})
