"""Tổng quan: progress at a glance. A village official sees only their village."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from admin_api.deps import village_scope
from console.dashboard import dashboard
from console.web import LANGUAGE, OfficialDep, SessionDep, commune_tz, page

router = APIRouter()


@router.get("")
@router.get("/")
def overview(request: Request, official: OfficialDep, session: SessionDep):
    knowledge = request.app.state.assistant.knowledge
    tz = commune_tz(request)
    village = village_scope(official.caller, None)
    commune = knowledge.pack(LANGUAGE).assistant.commune_name
    board = dashboard(session, knowledge, commune, tz, datetime.now(tz).date(), village)
    return page(request, "overview.html", official, board=board)
