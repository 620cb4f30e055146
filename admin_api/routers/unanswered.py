"""GET /api/v1/unanswered: what residents asked that the assistant could not answer, and the
answers they said were not what they meant (👎)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from admin_api.deps import get_session, get_settings, require_admin
from admin_api.schemas import UnansweredOut
from bot.feedback import not_helpful, unanswered

router = APIRouter(tags=["content"], dependencies=[Depends(require_admin)])


@router.get("/unanswered", response_model=list[UnansweredOut])
def list_unanswered(limit: int = Query(50, ge=1, le=500), session: Session = Depends(get_session),
                    settings=Depends(get_settings)):
    rows = unanswered(session, limit)
    # Both kinds in one list, most asked first: an editor works down it either way.
    voted = not_helpful(session, ZoneInfo(settings.timezone), limit)
    merged = sorted([*rows, *voted], key=lambda r: (-r.count, -r.last_seen.timestamp()))[:limit]
    return [UnansweredOut.model_validate(r) for r in merged]
