"""Turning a broadcast's audience into residents, in SQL."""
from __future__ import annotations

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session

from admin_api.errors import ApiError
from admin_api.schemas import Audience
from bot.channels.reach import reachable
from bot.content import Knowledge
from bot.i18n import N_
from bot.models import Completion, Resident, Village


def check_audience(session: Session, knowledge: Knowledge, audience: Audience) -> None:
    """Every id must exist: a typo must not silently shrink the audience to nobody."""
    pack = knowledge.pack("vi")
    known = {
        "villages": set(session.scalars(select(Village.id).where(Village.id.in_(audience.villages))))
        if audience.villages else set(),
        "groups": {g.id for g in pack.profile.groups},
        "age_bands": {b.id for b in pack.profile.age_bands},
        "languages": {language.code for language in knowledge.language_names} | set(knowledge.languages),
        "completed": set(pack.courses),
        "not_completed": set(pack.courses),
    }
    for name, ids in known.items():
        for i, value in enumerate(getattr(audience, name)):
            if value not in ids:
                raise ApiError(422, N_("{field} names an unknown id: {value}"), field=f"audience.{name}.{i}",
                               value=value)


def recipients(audience: Audience) -> Select:
    """SELECT residents.id of the active residents in the audience whom a message can reach: a
    count or a broadcast never includes a web chat resident without notifications."""
    query = select(Resident.id).where(Resident.active.is_(True), reachable())
    for values, column in ((audience.villages, Resident.village_id), (audience.groups, Resident.group_id),
                           (audience.age_bands, Resident.age_band), (audience.languages, Resident.language)):
        if values:
            query = query.where(column.in_(values))
    for course in audience.completed:
        query = query.where(exists().where(and_(Completion.resident_id == Resident.id, Completion.course_id == course)))
    if audience.not_completed:
        query = query.where(~exists().where(and_(Completion.resident_id == Resident.id,
                                                 Completion.course_id.in_(audience.not_completed))))
    return query
