"""Đại sứ số: invite codes, and what each ambassador has done."""
from __future__ import annotations

from datetime import datetime, timezone

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, audit, get_session, get_settings, village_scope
from admin_api.errors import ApiError
from admin_api.schemas import ID_PATTERN, AmbassadorOut, InviteIn, InviteOut, RankedOut
from bot.ambassadors import INVITE_PREFIX, create_invite, deep_link, ranking
from bot.i18n import N_
from bot.models import Completion, HelpSession, Referral, Resident, Village
from bot.share_codes import display

router = APIRouter(prefix="/ambassadors", tags=["ambassadors"])
may_manage = allow("admin", "village")


@router.post("/invites", response_model=InviteOut, status_code=201)
def create_ambassador_invite(body: InviteIn, request: Request, caller: Caller = Depends(may_manage),
                             session: Session = Depends(get_session)):
    village = body.village_id
    if caller.role == "village":
        if village not in (None, caller.village_id):
            raise ApiError(403, N_("This token may only reach its own village"), field="village_id")
        village = caller.village_id
    if village is not None and session.get(Village, village) is None:
        raise ApiError(422, N_("{field} names an unknown id: {value}"), field="village_id", value=village)
    code, invite = create_invite(session, caller.name, village, body.days, body.max_uses, datetime.now(timezone.utc))
    audit(session, caller, "ambassador_invite.create", f"invite {invite.id}",
          {"village": village, "days": body.days, "max_uses": body.max_uses})
    session.commit()
    username = request.app.state.assistant.bot_username
    return InviteOut(code=code, display_code=display(code), command=f"/daisuso {code}", village_id=village,
                     expires_at=invite.expires_at, max_uses=invite.max_uses,
                     link=deep_link(username, f"{INVITE_PREFIX}{code}") if username else None)


@router.get("/leaderboard", response_model=list[RankedOut])
def leaderboard(month: str | None = Query(None, pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
                village: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
                caller: Caller = Depends(allow("admin", "village", "viewer")), session: Session = Depends(get_session),
                settings=Depends(get_settings)):
    """The month's thi đua, per village when asked: neighbours helped, then their completions."""
    tz = ZoneInfo(settings.timezone)
    today = datetime.now(tz).date()
    year, number = (int(part) for part in month.split("-")) if month else (today.year, today.month)
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    village = village_scope(caller, village)
    return [RankedOut(**vars(r)) for r in ranking(session, start.astimezone(timezone.utc),
                                                  end.astimezone(timezone.utc), village)]


@router.get("", response_model=list[AmbassadorOut])
def list_ambassadors(caller: Caller = Depends(may_manage), session: Session = Depends(get_session)):
    helped = (select(Referral.ambassador_id.label("aid"), func.count().label("n"))
              .group_by(Referral.ambassador_id).subquery())
    completions = (select(Referral.ambassador_id.label("aid"), func.count().label("n"))
                   .join(Completion, Completion.resident_id == Referral.resident_id)
                   .group_by(Referral.ambassador_id).subquery())
    sessions = (select(HelpSession.ambassador_id.label("aid"), func.count().label("n"),
                       func.sum(HelpSession.people).label("people"))
                .group_by(HelpSession.ambassador_id).subquery())
    query = (select(Resident, helped.c.n, completions.c.n, sessions.c.n, sessions.c.people)
             .outerjoin(helped, helped.c.aid == Resident.id)
             .outerjoin(completions, completions.c.aid == Resident.id)
             .outerjoin(sessions, sessions.c.aid == Resident.id)
             .where(Resident.ambassador_since.is_not(None)).order_by(Resident.ambassador_since))
    if caller.role == "village":
        query = query.where(Resident.village_id == caller.village_id)
    return [AmbassadorOut(id=r.id, first_name=r.first_name, village_id=r.village_id, since=r.ambassador_since,
                          helped=h or 0, helped_completions=c or 0, sessions=s or 0, people_in_sessions=p or 0)
            for r, h, c, s, p in session.execute(query)]
