"""GET /api/v1/stats: headline counts for the commune."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_api.deps import get_session, require_admin
from bot.models import Completion, Progress, Resident

router = APIRouter(tags=["stats"], dependencies=[Depends(require_admin)])


class CourseCounts(BaseModel):
    course_id: str
    started: int
    completed: int


class Stats(BaseModel):
    residents: int
    courses: list[CourseCounts]


@router.get("/stats", response_model=Stats)
def read_stats(session: Session = Depends(get_session)) -> Stats:
    residents = session.scalar(select(func.count()).select_from(Resident)) or 0
    started = dict(session.execute(select(Progress.course_id, func.count()).group_by(Progress.course_id)).all())
    done = dict(session.execute(select(Completion.course_id, func.count()).group_by(Completion.course_id)).all())
    courses = [CourseCounts(course_id=c, started=started.get(c, 0), completed=done.get(c, 0))
               for c in sorted(set(started) | set(done))]
    return Stats(residents=residents, courses=courses)
