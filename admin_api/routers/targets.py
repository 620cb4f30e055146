"""The plan's targets per year and indicator (seeded from knowledge/targets.yaml)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, audit, get_knowledge, get_session, require_admin
from admin_api.errors import ApiError
from admin_api.schemas import ID_PATTERN, TargetIn, TargetOut
from bot.i18n import N_
from bot.models import Target

router = APIRouter(prefix="/targets", tags=["targets"])


@router.get("", response_model=list[TargetOut], dependencies=[Depends(allow("admin", "village", "viewer"))])
def list_targets(session: Session = Depends(get_session), knowledge=Depends(get_knowledge)):
    labels = {i.id: i.label for i in knowledge.plan.indicators}
    rows = session.scalars(select(Target).order_by(Target.year, Target.indicator))
    return [TargetOut(year=t.year, indicator=t.indicator, label=labels.get(t.indicator, t.indicator),
                      percent=t.percent) for t in rows if t.indicator in labels]


@router.put("/{year}/{indicator}", response_model=TargetOut)
def set_target(body: TargetIn, year: int = Path(ge=2020, le=2100), indicator: str = Path(max_length=64, pattern=ID_PATTERN),
               caller: Caller = Depends(require_admin), session: Session = Depends(get_session),
               knowledge=Depends(get_knowledge)):
    labels = {i.id: i.label for i in knowledge.plan.indicators}
    if indicator not in labels:
        raise ApiError(404, N_("No indicator with this id"), field="indicator")
    target = session.get(Target, (year, indicator))
    if target is None:
        target = Target(year=year, indicator=indicator, percent=body.percent)
        session.add(target)
    target.percent = body.percent
    audit(session, caller, "target.set", f"target {year}/{indicator}", {"percent": body.percent})
    session.commit()
    return TargetOut(year=year, indicator=indicator, label=labels[indicator], percent=target.percent)
