"""Báo cáo: pick a period (six months, a year, or any dates) and a village, download the report as
XLSX or DOCX, and write the sections a UBND report has beyond the tables (kept per period and
village; the computed figures are offered as a start)."""
from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select

from admin_api.deps import allow, audit, village_scope
from admin_api.errors import ApiError
from admin_api.reports.notes import SECTIONS, load_notes, save_notes, suggested_notes
from admin_api.reports.progress import progress_report
from admin_api.routers import reports as api
from bot.models import Village
from console.web import LANGUAGE, FormDep, OfficialDep, SessionDep, _, api_problem, back_to, commune_tz, held_to, page

router = APIRouter(prefix="/reports")
MAY_READ = allow("admin", "village", "viewer")      # as GET /api/v1/reports/progress
MAY_WRITE = allow("admin", "village")
KINDS = ("half", "year", "custom")


class PeriodProblem(ValueError):
    pass


def _period(kind: str, year: int, start: str | None, end: str | None) -> tuple[date, date]:
    if kind == "half":
        return date(year, 1, 1), date(year, 6, 30)
    if kind == "year":
        return date(year, 1, 1), date(year, 12, 31)
    try:
        first, last = date.fromisoformat(start or ""), date.fromisoformat(end or "")
    except ValueError:
        raise PeriodProblem(_("Please give both dates of the period.")) from None
    if first > last:
        raise PeriodProblem(_("The first day must not be after the last day."))
    if first.year < 2000 or last.year > 2100:
        raise PeriodProblem(_("Please check the dates of the period."))
    return first, last


def _choice(request: Request) -> dict:
    """The period and village asked for in the query, with defaults: this year so far."""
    query = request.query_params
    today = datetime.now(commune_tz(request)).date()
    kind = query.get("kind") if query.get("kind") in KINDS else ("half" if today.month <= 6 else "year")
    try:
        year = int(query.get("year", today.year))
    except ValueError:
        year = today.year
    year = min(max(year, 2020), today.year + 1)
    return {"kind": kind, "year": year, "from": query.get("from") or f"{today.year}-01-01",
            "to": query.get("to") or today.isoformat(), "village": query.get("village") or None}


@router.get("")
def reports(request: Request, official: OfficialDep, session: SessionDep):
    caller = held_to(official, MAY_READ)
    choice = _choice(request)
    villages = [(v.id, v.name) for v in session.scalars(select(Village).order_by(Village.position, Village.name))
                if caller.may_see_village(v.id)]
    problem, status, notes, suggested, period = None, 200, {}, False, None
    try:
        village = village_scope(caller, choice["village"])
        period = _period(choice["kind"], choice["year"], choice["from"], choice["to"])
        notes = load_notes(session, *period, village)
        if notes is None:
            knowledge = request.app.state.assistant.knowledge
            pack = knowledge.pack(LANGUAGE)
            report = progress_report(session, knowledge, pack.assistant.commune_name, *period, commune_tz(request),
                                     village, pack.report_labels)
            notes, suggested = suggested_notes(report, pack.report_labels), True
    except PeriodProblem as error:
        problem, status = str(error), 422
    except ApiError as error:
        problem, status = api_problem(error), error.status
    labels = request.app.state.assistant.knowledge.pack(LANGUAGE).report_labels
    return page(request, "reports.html", official, choice=choice, villages=villages, period=period, notes=notes,
                suggested=suggested, sections=[(s, labels.get(f"section_{s}", s)) for s in SECTIONS],
                may_write=official.role in ("admin", "village"), years=range(2025, datetime.now(commune_tz(request)).year + 2),
                problem=problem, status_code=status)


@router.get("/file")
def download(request: Request, official: OfficialDep, session: SessionDep, format: str = "docx"):
    caller = held_to(official, MAY_READ)
    choice = _choice(request)
    try:
        first, last = _period(choice["kind"], choice["year"], choice["from"], choice["to"])
        if format not in ("xlsx", "docx"):
            raise PeriodProblem(_("Please choose XLSX or DOCX."))
        return api.progress(period_from=first, period_to=last, village=choice["village"], format=format,
                            caller=caller, session=session, knowledge=request.app.state.assistant.knowledge,
                            settings=request.app.state.settings)
    except PeriodProblem as error:
        return page(request, "error.html", official, problem=str(error), status_code=422)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)


@router.post("/notes")
def write_notes(request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, MAY_WRITE)
    try:
        first, last = date.fromisoformat(form.get("from", "")), date.fromisoformat(form.get("to", ""))
        village = village_scope(caller, form.get("village") or None)
        save_notes(session, first, last, village, {s: str(form.get(s, "")) for s in SECTIONS}, caller.name)
        audit(session, caller, "report_notes.save", f"report {first}..{last} {village or 'commune'}")
        session.commit()
    except (ValueError, ValidationError):
        return page(request, "error.html", official, problem=_("Please check the dates of the period."),
                    status_code=422)
    except ApiError as error:
        return page(request, "error.html", official, problem=api_problem(error), status_code=error.status)
    query = f"kind={form.get('kind', 'custom')}&year={form.get('year', '')}&from={first}&to={last}"
    return back_to(f"/admin/reports?{query}" + (f"&village={village}" if village else ""), "saved")
