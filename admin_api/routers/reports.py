"""The periodic report against the plan's targets: JSON, XLSX (openpyxl) or DOCX (python-docx).

The plan asks for it every six months (before 08/6) and every year (before 08/12).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from admin_api.deps import Caller, allow, get_knowledge, get_session, get_settings, village_scope
from admin_api.errors import ApiError
from admin_api.reports.as_json import report_json
from admin_api.reports.notes import load_notes
from admin_api.reports.progress import progress_report
from admin_api.schemas import ID_PATTERN, ReportOut
from bot.i18n import N_
from bot.models import Village

router = APIRouter(prefix="/reports", tags=["reports"])
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@router.get("/progress", response_model=ReportOut, response_model_exclude_unset=True,
            responses={200: {"content": {MEDIA["xlsx"]: {}, MEDIA["docx"]: {}},
                             "description": "The report as JSON, or as a file with format=xlsx|docx"}})
def progress(period_from: date | None = Query(None, alias="from", description="first day, default 1 January"),
             period_to: date | None = Query(None, alias="to", description="last day (included), default today"),
             village: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
             format: Literal["json", "xlsx", "docx"] = Query("json"),
             caller: Caller = Depends(allow("admin", "village", "viewer")),
             session: Session = Depends(get_session), knowledge=Depends(get_knowledge), settings=Depends(get_settings)):
    tz = ZoneInfo(settings.timezone)
    period_to = period_to or datetime.now(tz).date()
    period_from = period_from or date(period_to.year, 1, 1)
    if period_from > period_to:
        raise ApiError(422, N_("{field} must not be after to"), field="from")
    if period_to.year > 2100 or period_from.year < 2000:
        raise ApiError(422, N_("{field} is out of range"), field="to" if period_to.year > 2100 else "from")
    village = village_scope(caller, village)
    if village is not None and session.get(Village, village) is None:
        raise ApiError(404, N_("No village with this id"), field="village")
    pack = knowledge.pack("vi")
    labels = pack.report_labels
    report = progress_report(session, knowledge, pack.assistant.commune_name, period_from, period_to, tz,
                             village, labels)
    if format == "json":
        return report_json(report, labels)
    if format == "xlsx":
        from admin_api.reports.xlsx import render_xlsx
        content = render_xlsx(report, labels, tz=tz)
    else:
        from admin_api.reports.docx import render_docx
        # The sections the officials wrote for this very period and village, if any.
        content = render_docx(report, labels, tz=tz,
                              notes=load_notes(session, period_from, period_to, village))
    name = f"bao-cao-bdhvs-{period_from:%Y%m%d}-{period_to:%Y%m%d}{'-' + village if village else ''}.{format}"
    return Response(content, media_type=MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})
