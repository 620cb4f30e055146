"""Villages (thôn, bản, tiểu khu): names, kinds, adult population and households for the report."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, audit, get_session, require_admin
from admin_api.errors import ApiError
from admin_api.schemas import ID_PATTERN, VillageIn, VillageOut, VillagePatch
from bot.i18n import N_
from bot.models import Resident, Village

router = APIRouter(prefix="/villages", tags=["villages"])


def _out(session: Session, village: Village) -> VillageOut:
    residents = session.scalar(select(func.count()).select_from(Resident).where(Resident.village_id == village.id))
    return VillageOut(id=village.id, name=village.name, kind=village.kind, adult_population=village.adult_population,
                      households=village.households, residents=residents or 0)


def _get(session: Session, village_id: str) -> Village:
    village = session.get(Village, village_id)
    if village is None:
        raise ApiError(404, N_("No village with this id"), field="village_id")
    return village


@router.get("", response_model=list[VillageOut])
def list_villages(caller: Caller = Depends(allow("admin", "village")), session: Session = Depends(get_session)):
    rows = session.scalars(select(Village).order_by(Village.position, Village.name)).all()
    return [_out(session, v) for v in rows if caller.may_see_village(v.id)]


@router.post("", response_model=VillageOut, status_code=201)
def create_village(body: VillageIn, caller: Caller = Depends(require_admin), session: Session = Depends(get_session)):
    if session.get(Village, body.id) is not None:
        raise ApiError(409, N_("A village with this id already exists"), field="id")
    position = (session.scalar(select(func.max(Village.position))) or 0) + 1
    village = Village(**body.model_dump(), position=position)
    session.add(village)
    audit(session, caller, "village.create", f"village {body.id}", body.model_dump(exclude={"name"}))
    session.commit()
    return _out(session, village)


@router.get("/{village_id}", response_model=VillageOut)
def read_village(village_id: str = Path(max_length=64, pattern=ID_PATTERN), caller: Caller = Depends(allow("admin", "village")),
                 session: Session = Depends(get_session)):
    if not caller.may_see_village(village_id):
        raise ApiError(403, N_("This token may only reach its own village"), field="village_id")
    return _out(session, _get(session, village_id))


@router.patch("/{village_id}", response_model=VillageOut)
def update_village(body: VillagePatch, village_id: str = Path(max_length=64, pattern=ID_PATTERN), caller: Caller = Depends(require_admin),
                   session: Session = Depends(get_session)):
    village = _get(session, village_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "kind"):
        if name in changes and changes[name] is None:
            raise ApiError(422, N_("{field} may not be null"), field=name)
    for name, value in changes.items():
        setattr(village, name, value)
    audit(session, caller, "village.update", f"village {village_id}", {"fields": sorted(changes)})
    session.commit()
    return _out(session, village)
