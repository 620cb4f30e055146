"""Bản / tiểu khu: adults and households per village, and the plan's targets per year. Admins
edit them; the overview and the reports use them as the base of every percentage."""
from __future__ import annotations

from bot.i18n import N_
from fastapi import APIRouter, Request
from pydantic import ValidationError

from admin_api.errors import ApiError
from admin_api.routers import targets as targets_api
from admin_api.routers import villages as api
from admin_api.schemas import TargetIn, VillagePatch
from admin_api.deps import allow
from console.web import AdminDep, held_to, FormDep, OfficialDep, SessionDep, _, api_problem, back_to, page

router = APIRouter(prefix="/villages")
MAY_READ = allow("admin", "village")     # as GET /api/v1/villages
NUMBERS = {"adult_population": N_("Adults (18 and over)"), "households": N_("Households")}


class FormProblem(ValueError):
    pass


def _count(form: dict, name: str, label: str) -> int | None:
    text = str(form.get(name, "")).strip().replace(".", "").replace(" ", "")
    if not text:
        return None
    if not text.isdigit() or len(text) > 8:
        raise FormProblem(_("Please check this field: {field}").format(field=_(label)))
    return int(text)


def _page(request: Request, official, session, **context):
    knowledge = request.app.state.assistant.knowledge
    villages = api.list_villages(caller=official.caller, session=session)
    targets = targets_api.list_targets(session=session, knowledge=knowledge)
    years = sorted({t.year for t in targets})
    indicators = [(i.id, i.label) for i in knowledge.plan.indicators]
    percent = {(t.year, t.indicator): t.percent for t in targets}
    return page(request, "villages.html", official, villages=villages, years=years, indicators=indicators,
                percent=percent, numbers=NUMBERS, **context)


@router.get("")
def list_villages(request: Request, official: OfficialDep, session: SessionDep):
    held_to(official, MAY_READ)
    return _page(request, official, session)


@router.post("/{village_id}")
def update_village(village_id: str, request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    try:
        changes = {name: _count(form, name, label) for name, label in NUMBERS.items()}
        api.update_village(VillagePatch(**changes), village_id=village_id, caller=official.caller, session=session)
    except FormProblem as problem:
        return _page(request, official, session, problem=str(problem), status_code=422)
    except ApiError as error:
        return _page(request, official, session, problem=api_problem(error), status_code=error.status)
    return back_to(f"/admin/villages#v-{village_id}", "saved")


@router.post("/targets/save")
def save_targets(request: Request, official: AdminDep, session: SessionDep, form: FormDep):
    knowledge = request.app.state.assistant.knowledge
    current = {(t.year, t.indicator): t.percent for t in targets_api.list_targets(session=session, knowledge=knowledge)}
    labels = {i.id: i.label for i in knowledge.plan.indicators}
    try:
        wanted = {}
        for (year, indicator), before in current.items():
            value = _count(form, f"target-{year}-{indicator}", labels[indicator])
            if value is not None and value != before:
                wanted[(year, indicator)] = TargetIn(percent=value)
        for (year, indicator), body in wanted.items():
            targets_api.set_target(body, year=year, indicator=indicator, caller=official.caller, session=session,
                                   knowledge=knowledge)
    except FormProblem as problem:
        return _page(request, official, session, problem=str(problem), status_code=422)
    except ValidationError:
        return _page(request, official, session, problem=_("A target is a percent from 0 to 100."), status_code=422)
    return back_to("/admin/villages#targets", "saved")
