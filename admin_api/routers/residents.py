"""Residents: list, search and filter; progress detail; delete on request; CSV export.

A village token sees its own village's residents only. The export is for the admin role.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, audit, get_knowledge, get_session, require_admin, village_scope
from admin_api.errors import ApiError
from admin_api.schemas import (ID_PATTERN, NO_NUL, CourseProgress, ResidentDetail, ResidentOut, ResidentPage,
                               ResidentPatch)
from bot.i18n import N_
from bot.models import Completion, Progress, Resident
from bot.privacy import AUDIT_SUBJECT, FORGOTTEN_SUBJECT, forget_resident

router = APIRouter(prefix="/residents", tags=["residents"])
may_read = allow("admin", "village")
CSV_COLUMNS = ("id", "first_name", "village_id", "group_id", "age_band", "language", "active", "certified", "official", "reminders",
               "created_at", "last_seen_at", "completed")


def _filtered(caller: Caller, village: str | None, group: str | None, age_band: str | None,
              completed: str | None, q: str | None):
    query = select(Resident)
    village = village_scope(caller, village)
    for value, column in ((village, Resident.village_id), (group, Resident.group_id),
                          (age_band, Resident.age_band)):
        if value is not None:
            query = query.where(column == value)
    if completed is not None:
        query = query.where(Resident.id.in_(select(Completion.resident_id).where(Completion.course_id == completed)))
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Resident.first_name).like(f"%{escaped}%", escape="\\"))
    return query


def _completed(session: Session, ids: list[int]) -> dict[int, list[str]]:
    done: dict[int, list[str]] = defaultdict(list)
    if ids:
        for rid, course in session.execute(select(Completion.resident_id, Completion.course_id)
                                           .where(Completion.resident_id.in_(ids))
                                           .order_by(Completion.completed_at)):
            done[rid].append(course)
    return done


def _out(r: Resident, completed: list[str]) -> dict:
    return dict(id=r.id, first_name=r.first_name, village_id=r.village_id, group_id=r.group_id,
                age_band=r.age_band, language=r.language, active=r.active, certified=r.certified_at is not None,
                official=r.official, reminders=r.reminders,
                created_at=r.created_at, last_seen_at=r.last_seen_at, completed=completed)


def Filter():  # noqa: N802 - one Query object per parameter: FastAPI does not allow sharing one
    return Query(default=None, max_length=64, pattern=ID_PATTERN)


@router.get("", response_model=ResidentPage)
def list_residents(village: str | None = Filter(), group: str | None = Filter(), age_band: str | None = Filter(),
                   completed: str | None = Filter(), q: str | None = Query(default=None, max_length=64, pattern=NO_NUL),
                   limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10_000_000),
                   caller: Caller = Depends(may_read), session: Session = Depends(get_session)):
    query = _filtered(caller, village, group, age_band, completed, q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Resident.id).limit(limit).offset(offset)).all()
    done = _completed(session, [r.id for r in rows])
    return ResidentPage(total=total, items=[ResidentOut(**_out(r, done[r.id])) for r in rows])


@router.get("/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "Residents as CSV"}})
def export_residents(village: str | None = Filter(), group: str | None = Filter(), age_band: str | None = Filter(),
                     completed: str | None = Filter(), caller: Caller = Depends(require_admin),
                     session: Session = Depends(get_session)):
    query = _filtered(caller, village, group, age_band, completed, None).order_by(Resident.id)
    rows = session.scalars(query).all()
    done = _completed(session, [r.id for r in rows])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in rows:
        row = _out(r, done[r.id])
        row["completed"] = " ".join(row["completed"])
        writer.writerow(row)
    audit(session, caller, "residents.export", "residents", {"rows": len(rows)})
    session.commit()
    # A BOM so that Excel opens the Vietnamese names correctly.
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="residents.csv"'})


def _get(session: Session, caller: Caller, resident_id: int) -> Resident:
    resident = session.get(Resident, resident_id)
    if resident is None or not caller.may_see_village(resident.village_id):
        # A village token gets 404 for other villages' residents: it may not learn who exists there.
        raise ApiError(404, N_("No resident with this id"), field="resident_id")
    return resident


ResidentId = Path(ge=1, le=2**31 - 1)


@router.get("/{resident_id}", response_model=ResidentDetail)
def read_resident(resident_id: int = ResidentId, caller: Caller = Depends(may_read),
                  session: Session = Depends(get_session), knowledge=Depends(get_knowledge)):
    resident = _get(session, caller, resident_id)
    completions = {c.course_id: c for c in session.scalars(
        select(Completion).where(Completion.resident_id == resident.id))}
    progress = {p.course_id: p for p in session.scalars(select(Progress).where(Progress.resident_id == resident.id))}
    courses = knowledge.pack(resident.language).courses
    detail = []
    for course_id in sorted(set(progress) | set(completions)):
        p, c = progress.get(course_id), completions.get(course_id)
        course = courses.get(course_id)
        detail.append(CourseProgress(
            course_id=course_id, step=(p.step_index + 1) if p else 0, steps=len(course.steps) if course else 0,
            started_at=p.started_at if p else c.completed_at, completed_at=c.completed_at if c else None,
            best_percent=c.best_percent if c else None))
    return ResidentDetail(**_out(resident, [c for c in completions]), courses=detail)


@router.patch("/{resident_id}", response_model=ResidentDetail)
def update_resident(body: ResidentPatch, resident_id: int = ResidentId, caller: Caller = Depends(require_admin),
                    session: Session = Depends(get_session), knowledge=Depends(get_knowledge)):
    """Marks a resident as a village official (report-deadline reminders), or not."""
    resident = _get(session, caller, resident_id)
    resident.official = body.official
    audit(session, caller, "resident.update", AUDIT_SUBJECT.format(id=resident_id), {"official": body.official})
    session.commit()
    return read_resident(resident_id, caller, session, knowledge)


@router.delete("/{resident_id}", status_code=204, response_class=Response)
def delete_resident(resident_id: int = ResidentId, caller: Caller = Depends(may_read),
                    session: Session = Depends(get_session)):
    """Honours a person's request to be forgotten: the row and everything linked to it."""
    resident = _get(session, caller, resident_id)
    session.expunge(resident)
    forget_resident(session, resident.id)
    audit(session, caller, "resident.delete", FORGOTTEN_SUBJECT)   # the deletion is logged, not whose
    session.commit()
    return Response(status_code=204)
