"""Bài học có tiếng đọc: which steps residents hear in a person's voice and which in the computer's,
per language; admins upload a recording for a step (or remove one) here, as with the admin API's
PUT /api/v1/recordings/<language>/<key>."""
from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from admin_api.errors import ApiError
from admin_api.routers import recordings as api
from admin_api.deps import allow
from bot.content.media_check import AUDIO_MAX_BYTES
from bot.media.inventory import inventory, recordable
from console.web import AdminDep, FormDep, OfficialDep, SessionDep, _, api_problem, back_to, held_to, page

router = APIRouter(prefix="/recordings")
MAY_READ = allow("admin", "village", "viewer")    # as GET /api/v1/media


def _page(request: Request, official, session, language: str, **context):
    knowledge = request.app.state.assistant.knowledge
    rows = [r for r in inventory(knowledge, session, request.app.state.assistant.media) if r.language == language]
    steps, counts = defaultdict(list), defaultdict(lambda: [0, 0])
    for row in rows:
        group = row.key.split("/", 1)[0]
        counts[group][0] += bool(row.recording)
        counts[group][1] += 1
        if group != "faq" and "/quiz/" not in row.key:
            steps[group].append(row)
    courses = [(c, steps[c.id], counts[c.id]) for c in knowledge.pack(language).ordered_courses]
    names = {n.code: n.name for n in knowledge.language_names}
    choices = [(code, names.get(code, code)) for code in recordable(knowledge)]
    return page(request, "recordings.html", official, courses=courses, faq=counts["faq"], language=language,
                languages=choices, **context)


def _language(request: Request, value: str | None) -> str:
    knowledge = request.app.state.assistant.knowledge
    return value if value in recordable(knowledge) else knowledge.default_language


@router.get("")
def list_recordings(request: Request, official: OfficialDep, session: SessionDep, language: str | None = None):
    held_to(official, MAY_READ)
    return _page(request, official, session, _language(request, language))


@router.post("/{language}/{key:path}")
async def upload(language: str, key: str, request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    language = _language(request, language)
    sound = form.get("sound")
    data = await sound.read(AUDIO_MAX_BYTES + 1) if hasattr(sound, "read") else b""
    try:
        if form.get("remove"):
            await run_in_threadpool(api.delete_recording, language=language, key=key, caller=official.caller,
                                    session=session, knowledge=request.app.state.assistant.knowledge)
            return back_to(f"/admin/recordings?language={language}#r-{key}", "deleted")
        if not data:
            raise ApiError(422, api.PROBLEMS[api.recordings.NOT_SOUND], field="body")
        api.check_part(request.app.state.assistant.knowledge, language, key)
        await run_in_threadpool(api.keep, session, official.caller, language, key, data)
    except ApiError as error:
        return await run_in_threadpool(lambda: _page(request, official, session, language, problem=api_problem(error),
                                                     status_code=error.status))
    return back_to(f"/admin/recordings?language={language}#r-{key}", "saved")
