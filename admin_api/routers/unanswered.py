"""GET /api/v1/unanswered: what residents asked that the assistant could not answer."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_api.deps import get_session, require_admin
from bot.models import UnansweredQuestion

router = APIRouter(tags=["content"], dependencies=[Depends(require_admin)])


class UnansweredOut(BaseModel):
    text: str
    count: int
    first_seen: datetime
    last_seen: datetime


@router.get("/unanswered", response_model=list[UnansweredOut])
def list_unanswered(limit: int = Query(50, ge=1, le=500), session: Session = Depends(get_session)):
    rows = session.scalars(select(UnansweredQuestion).order_by(
        UnansweredQuestion.count.desc(), UnansweredQuestion.last_seen.desc()).limit(limit))
    return [UnansweredOut(text=r.text, count=r.count, first_seen=r.first_seen, last_seen=r.last_seen)
            for r in rows]
