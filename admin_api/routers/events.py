"""Events: the commune's (and villages') events. Subscribed residents get announcements
7 days before, 1 day before and on the morning (see bot/events.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, audit, get_session, get_settings, require_admin
from admin_api.errors import ApiError
from admin_api.schemas import EventIn, EventOut, EventPatch
from bot.i18n import N_
from bot.models import Event, EventSubscription, Village

router = APIRouter(prefix="/events", tags=["events"])
may_read = allow("admin", "village")
EventId = Path(ge=1, le=2**31 - 1)


def _aware(moment: datetime, settings) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(settings.timezone))
    return moment.astimezone(timezone.utc)


def _out(session: Session, event: Event) -> EventOut:
    subscribers = session.scalar(select(func.count()).select_from(EventSubscription)
                                 .where(EventSubscription.event_id == event.id)) or 0
    return EventOut(id=event.id, title=event.title, description=event.description, starts_at=event.starts_at,
                    location=event.location, village_id=event.village_id, yearly=event.yearly_key is not None,
                    subscribers=subscribers)


def _check_village(session: Session, village_id: str | None) -> None:
    if village_id is not None and session.get(Village, village_id) is None:
        raise ApiError(422, N_("{field} names an unknown id: {value}"), field="village_id", value=village_id)


def _get(session: Session, caller: Caller, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or (event.village_id is not None and not caller.may_see_village(event.village_id)):
        raise ApiError(404, N_("No event with this id"), field="event_id")
    return event


@router.get("", response_model=list[EventOut])
def list_events(include_past: bool = Query(False), caller: Caller = Depends(may_read),
                session: Session = Depends(get_session)):
    query = select(Event).order_by(Event.starts_at)
    if not include_past:
        query = query.where(Event.starts_at > datetime.now(timezone.utc))
    return [_out(session, e) for e in session.scalars(query)
            if e.village_id is None or caller.may_see_village(e.village_id)]


@router.post("", response_model=EventOut, status_code=201)
def create_event(body: EventIn, caller: Caller = Depends(require_admin), session: Session = Depends(get_session),
                 settings=Depends(get_settings)):
    _check_village(session, body.village_id)
    event = Event(title=body.title, description=body.description, starts_at=_aware(body.starts_at, settings),
                  location=body.location, village_id=body.village_id)
    session.add(event)
    session.flush()
    audit(session, caller, "event.create", f"event {event.id}")
    session.commit()
    return _out(session, event)


@router.get("/{event_id}", response_model=EventOut)
def read_event(event_id: int = EventId, caller: Caller = Depends(may_read), session: Session = Depends(get_session)):
    return _out(session, _get(session, caller, event_id))


@router.patch("/{event_id}", response_model=EventOut)
def update_event(body: EventPatch, event_id: int = EventId, caller: Caller = Depends(require_admin),
                 session: Session = Depends(get_session), settings=Depends(get_settings)):
    event = _get(session, caller, event_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("title", "starts_at", "description", "location"):
        if name in changes and changes[name] is None:
            raise ApiError(422, N_("{field} may not be null"), field=name)
    if "village_id" in changes:
        _check_village(session, changes["village_id"])
    if "starts_at" in changes:
        changes["starts_at"] = _aware(changes["starts_at"], settings)
    for name, value in changes.items():
        setattr(event, name, value)
    audit(session, caller, "event.update", f"event {event.id}", {"fields": sorted(changes)})
    session.commit()
    return _out(session, event)


@router.delete("/{event_id}", status_code=204, response_class=Response)
def delete_event(event_id: int = EventId, caller: Caller = Depends(require_admin),
                 session: Session = Depends(get_session)):
    event = _get(session, caller, event_id)
    if event.yearly_key is not None:
        # It would be made again at the next start-up: the plan asks for it every year.
        raise ApiError(409, N_("This event is made every year; change its time, place or text instead"),
                       field="event_id")
    session.execute(EventSubscription.__table__.delete().where(EventSubscription.event_id == event.id))
    session.delete(event)
    audit(session, caller, "event.delete", f"event {event_id}")
    session.commit()
    return Response(status_code=204)
