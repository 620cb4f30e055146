"""Thông báo: compose a broadcast with a live count of who will receive it, preview it as a
resident will see it, send it now or later; follow each one's progress, cancel it, or send it
again to those it failed to reach. Every step calls the admin API's own functions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.i18n import N_
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select

from admin_api.errors import ApiError, field_name
from admin_api.routers import broadcasts as api
from admin_api.schemas import Audience, BroadcastIn
from bot.channels.zalo.render import render as zalo_render
from bot.i18n import translator
from bot.models import Broadcast, Village
from bot.delivery import course_buttons
from bot.replies import Reply
from console.security import Official
from console.web import (LANGUAGE, FormDep, held_to, OfficialDep, SessionDep, _, api_problem, back_to, commune_tz, local,
                         page)

router = APIRouter(prefix="/broadcasts")
AUDIENCE_FIELDS = ("villages", "groups", "age_bands", "languages", "completed", "not_completed")
LISTED = 30


def _many(values: dict[str, Any], key: str) -> list[str]:
    value = values.get(key, [])
    return [v for v in (value if isinstance(value, list) else [value]) if v]


def _message(values: dict[str, Any]) -> BroadcastIn:
    """The form as the API's body; raises ValidationError naming the field."""
    send_at = values.get("send_at") if values.get("when") == "later" else None
    return BroadcastIn(text=values.get("text", ""), courses=_many(values, "courses"),
                       audience=Audience(**{name: _many(values, name) for name in AUDIENCE_FIELDS}),
                       urgent=values.get("urgent") == "1", send_at=send_at or None)


def _invalid(error: ValidationError) -> str:
    first = error.errors()[0]
    return _("Please check this field: {field}").format(field=_(FIELD_NAMES.get(field_name(first["loc"]).split(".")[0],
                                                                               field_name(first["loc"]))))


FIELD_NAMES = {"text": N_("Message"), "send_at": N_("Send at"), "courses": N_("Course buttons"), "audience": N_("Who receives it")}


def _choices(request: Request, session, official: Official) -> dict[str, list[tuple[str, str]]]:
    knowledge = request.app.state.assistant.knowledge
    pack = knowledge.pack(LANGUAGE)
    villages = [(v.id, v.name) for v in session.scalars(select(Village).order_by(Village.position, Village.name))
                if official.caller.may_see_village(v.id)]
    courses = [(c.id, c.title) for c in sorted(pack.courses.values(), key=lambda c: c.order)]
    return {"villages": villages, "groups": [(g.id, g.label) for g in pack.profile.groups],
            "age_bands": [(b.id, b.label) for b in pack.profile.age_bands],
            "languages": [(lang.code, lang.name) for lang in knowledge.language_names],
            "completed": courses, "not_completed": courses, "courses": courses}


def _compose(request: Request, session, official, values: dict[str, Any], problem: str | None = None,
             status_code: int = 200):
    settings = request.app.state.settings
    if official.role == "village":
        values = {**values, "villages": [official.village_id]}
    return page(request, "broadcast_compose.html", official, values=values, many=lambda k: _many(values, k),
                choices=_choices(request, session, official), quiet=settings.quiet_hours, problem=problem,
                status_code=status_code)


def _preview(request: Request, body: BroadcastIn) -> dict[str, Any]:
    """The message as residents will get it: with buttons (Telegram, web chat), and as the numbered
    choices a Zalo resident types."""
    pack = request.app.state.assistant.knowledge.pack(LANGUAGE)
    buttons = course_buttons(pack, body.courses)
    zalo = zalo_render(Reply(body.text, buttons), translator(LANGUAGE))
    return {"text": body.text, "buttons": [row[0].label for row in buttons], "zalo": "\n\n".join(zalo.parts)}


@router.get("")
def list_broadcasts(request: Request, official: OfficialDep, session: SessionDep):
    caller = held_to(official, api.may_broadcast)
    rows = session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(LISTED * 4)).all()
    shown = []
    for broadcast in rows:
        if caller.role == "village" and broadcast.audience.get("villages") != [caller.village_id]:
            continue
        shown.append((api._status(session, broadcast), api.failure_reasons(session, broadcast.id)))
        if len(shown) == LISTED:
            break
    return page(request, "broadcasts.html", official, broadcasts=shown,
                may_send=True)


@router.get("/new")
def new_broadcast(request: Request, official: OfficialDep, session: SessionDep):
    held_to(official, api.may_broadcast)
    return _compose(request, session, official, {"when": "now"})


@router.post("/compose")
def edit_again(request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    """Back from the preview to the form, with what was typed."""
    held_to(official, api.may_broadcast)
    return _compose(request, session, official, form)


class Problem(Exception):
    def __init__(self, text: str, status: int):
        super().__init__(text)
        self.text, self.status = text, status


def _through_api(request: Request, session, caller, values: dict[str, Any], route):
    """The form as the API's body, handed to an API route (preview or create); a bad form or an
    API refusal becomes a Problem with the sentence and status to show."""
    try:
        body = _message(values)
        return body, route(body, caller=caller, session=session, knowledge=request.app.state.assistant.knowledge,
                           settings=request.app.state.settings)
    except ValidationError as error:
        raise Problem(_invalid(error), 422) from None
    except ApiError as error:
        raise Problem(api_problem(error), error.status) from None


@router.get("/count")
def live_count(request: Request, official: OfficialDep, session: SessionDep):
    """Who would receive it and when it would go, as the official changes the form (console.js)."""
    caller = held_to(official, api.may_broadcast)
    values: dict[str, Any] = {k: request.query_params.getlist(k) if k in AUDIENCE_FIELDS or k == "courses"
                              else request.query_params.get(k) for k in request.query_params.keys()}
    values.setdefault("text", ".")
    try:
        _, preview = _through_api(request, session, caller, values, api.preview_broadcast)
    except Problem as problem:
        return JSONResponse({"problem": problem.text}, status_code=problem.status)
    return {"recipients": preview.recipients, "due": local(preview.due_at, commune_tz(request))}


@router.post("/preview")
def preview(request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, api.may_broadcast)
    try:
        body, count = _through_api(request, session, caller, form, api.preview_broadcast)
    except Problem as problem:
        return _compose(request, session, official, form, problem.text, problem.status)
    return page(request, "broadcast_preview.html", official, values=form, many=lambda k: _many(form, k),
                fields=AUDIENCE_FIELDS, preview=_preview(request, body), recipients=count.recipients,
                due=local(count.due_at, commune_tz(request)), urgent=body.urgent,
                quiet=request.app.state.settings.quiet_hours)


@router.post("")
def send(request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, api.may_broadcast)
    try:
        _, created = _through_api(request, session, caller, form, api.create_broadcast)
    except Problem as problem:
        return _compose(request, session, official, form, problem.text, problem.status)
    return back_to(f"/admin/broadcasts#b{created.id}", "sent")


@router.post("/{broadcast_id}/cancel")
def cancel(broadcast_id: int, request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, api.may_broadcast)
    try:
        api.cancel_broadcast(broadcast_id, caller=caller, session=session)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    return back_to("/admin/broadcasts", "cancelled")


@router.post("/{broadcast_id}/resend")
def resend(broadcast_id: int, request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, api.may_broadcast)
    try:
        api.resend_failed(broadcast_id, caller=caller, session=session,
                          settings=request.app.state.settings)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    return back_to("/admin/broadcasts", "resent")
