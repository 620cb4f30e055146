"""Sự kiện: the commune's and villages' events (the yearly 10/10 day first), each with the
announcements its subscribers get. Admins create, edit and delete; village officials read."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.i18n import N_
from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select

from admin_api.errors import ApiError, field_name
from admin_api.routers import events as api
from admin_api.schemas import EventIn, EventPatch
from bot.events import announcement_times
from bot.models import Event, Village
from console.web import AdminDep, held_to, FormDep, OfficialDep, SessionDep, _, api_problem, back_to, commune_tz, page

router = APIRouter(prefix="/events")
FIELDS = ("title", "description", "starts_at", "location", "village_id")
FIELD_NAMES = {"title": N_("Title"), "description": N_("Description"), "starts_at": N_("Date and time"), "location": N_("Place"),
               "village_id": N_("Village")}


def _values(form: dict[str, Any]) -> dict[str, Any]:
    values = {name: (form.get(name) or "").strip() for name in FIELDS}
    values["village_id"] = values["village_id"] or None
    return values


def _invalid(error: ValidationError) -> str:
    name = field_name(error.errors()[0]["loc"])
    return _("Please check this field: {field}").format(field=_(FIELD_NAMES.get(name, name)))


def _listing(request: Request, official, session, past: bool, **context):
    tz = commune_tz(request)
    query = select(Event).order_by(Event.yearly_key.is_(None), Event.starts_at)
    if not past:
        query = query.where(Event.starts_at > datetime.now(timezone.utc))
    events = [e for e in session.scalars(query) if e.village_id is None or official.caller.may_see_village(e.village_id)]
    rows = [(api._out(session, e), announcement_times(e, tz)) for e in events]
    villages = [(v.id, v.name) for v in session.scalars(select(Village).order_by(Village.position, Village.name))]
    return page(request, "events.html", official, rows=rows, villages=villages, past=past,
                names=dict(villages), **context)


@router.get("")
def list_events(request: Request, official: OfficialDep, session: SessionDep, past: bool = False):
    held_to(official, api.may_read)
    return _listing(request, official, session, past, values={})


@router.post("")
def create_event(request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    values = _values(form)
    try:
        body = EventIn(**values)
        created = api.create_event(body, caller=official.caller, session=session, settings=request.app.state.settings)
    except ValidationError as error:
        return _listing(request, official, session, False, values=values, problem=_invalid(error), status_code=422)
    except ApiError as error:
        return _listing(request, official, session, False, values=values, problem=api_problem(error),
                        status_code=error.status)
    return back_to(f"/admin/events#e{created.id}", "saved")


@router.get("/{event_id}")
def edit_event(event_id: int, request: Request, official: AdminDep, session: SessionDep):
    try:
        event = api._get(session, official.caller, event_id)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    tz = commune_tz(request)
    values = {"title": event.title, "description": event.description, "location": event.location,
              "village_id": event.village_id, "starts_at": event.starts_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")}
    return _edit_page(request, official, session, event, values)


def _edit_page(request, official, session, event, values, **context):
    villages = [(v.id, v.name) for v in session.scalars(select(Village).order_by(Village.position, Village.name))]
    return page(request, "event_edit.html", official, event=event, values=values, villages=villages,
                times=announcement_times(event, commune_tz(request)), **context)


@router.post("/{event_id}")
def update_event(event_id: int, request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    values = _values(form)
    try:
        event = api._get(session, official.caller, event_id)
        body = EventPatch(**values)
        api.update_event(body, event_id=event_id, caller=official.caller, session=session,
                         settings=request.app.state.settings)
    except ValidationError as error:
        return _edit_page(request, official, session, event, values, problem=_invalid(error), status_code=422)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    return back_to(f"/admin/events#e{event_id}", "saved")


@router.post("/{event_id}/delete")
def delete_event(event_id: int, request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    try:
        api.delete_event(event_id, caller=official.caller, session=session)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    return back_to("/admin/events", "deleted")
