"""Đại sứ số: what the ambassadors have done, the month's thi đua, and invite codes printed as
QR cards. Every figure and every invite comes from the admin API's own functions, called with
the official's role and village.

The API checks roles in its dependencies, which a direct call skips, so this page runs the same
checks (console.web.held_to with the routes' own `allow`): admin and village officials see the
ambassadors and make invites (a village official's are pinned to their village by the API's own
code); a viewer sees the ranking only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Request
from markupsafe import Markup
from pydantic import ValidationError

from admin_api.errors import ApiError
from admin_api.routers import ambassadors as api
from admin_api.schemas import InviteIn, InviteOut
from bot.i18n import N_
from bot.reference import villages as all_villages
from console.web import (FormDep, NotAllowed, OfficialDep, SessionDep, _, api_problem, commune_tz, held_to,
                         page)

router = APIRouter()
MONTH = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")   # the API's leaderboard pattern
MAX_CARDS = 20
# The form's numbers, with their labels; their bounds are InviteIn's (count is the page's own).
NUMBERS = {"days": N_("Days valid"), "max_uses": N_("Uses per code"), "count": N_("Number of cards")}
QR_MODULE_PX = 5      # one QR module on screen; the print stylesheet sets the printed size in mm
QR_BORDER = 4         # the quiet zone the QR standard asks for, in modules


def _bounds(name: str) -> tuple[int, int]:
    if name == "count":
        return 1, MAX_CARDS
    metadata = InviteIn.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge))
    high = next(m.le for m in metadata if isinstance(m, Le))
    return low, high


class BadField(ValueError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _problem(name: str) -> str:
    if name not in NUMBERS:      # village_id: not an id at all (a tampered form)
        return _("Please pick the village from the list.")
    low, high = _bounds(name)
    return _("“{field}” must be a whole number from {low} to {high}.").format(
        field=_(NUMBERS.get(name, name)), low=low, high=high)


def _number(values: dict[str, Any], name: str, default: int) -> int:
    raw = values.get(name)
    raw = raw[0] if isinstance(raw, list) else raw
    if raw is None or not str(raw).strip():
        return default
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise BadField(name)
    return int(text)


def _invite(values: dict[str, Any]) -> tuple[InviteIn, int]:
    """The form as the API's body, and how many cards; raises BadField naming the field."""
    days = _number(values, "days", InviteIn.model_fields["days"].default)
    max_uses = _number(values, "max_uses", InviteIn.model_fields["max_uses"].default)
    count = _number(values, "count", 1)
    if not 1 <= count <= MAX_CARDS:
        raise BadField("count")
    village = values.get("village")
    village = (village[0] if isinstance(village, list) else village) or None
    try:
        return InviteIn(village_id=village, days=days, max_uses=max_uses), count
    except ValidationError as error:
        loc = error.errors()[0]["loc"]
        raise BadField(str(loc[0]) if loc else "village_id") from error


def _month_bounds(month: str) -> tuple[date, date, date]:
    """The month's first day, and the first days of the months before and after it."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    before = date(year - (number == 1), 12 if number == 1 else number - 1, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return first, before, after


@dataclass(frozen=True)
class Totals:
    ambassadors: int
    helped: int
    helped_completions: int
    sessions: int
    people_in_sessions: int


def _board(request: Request, official, session, values: dict[str, Any] | None = None,
           problem: str | None = None, status_code: int = 200):
    """The page: totals (admin and village), the month's ranking, and the invite form."""
    caller = official.caller
    tz = commune_tz(request)
    this_month = datetime.now(tz).strftime("%Y-%m")
    asked = request.query_params.get("month", "").strip()
    month = this_month
    if asked:
        if MONTH.match(asked):
            month = asked
        else:
            problem = problem or _("Please pick a month like {example}.").format(example=this_month)
            status_code = 422
    ranking: list = []
    try:
        ranking = api.leaderboard(month=month, village=None, caller=caller, session=session,
                                  settings=request.app.state.settings)
    except ApiError as error:
        problem, status_code = problem or api_problem(error), error.status
    ambassadors, totals = [], None
    manager = _manager(official)
    if manager is not None:
        try:
            ambassadors = api.list_ambassadors(caller=manager, session=session)
        except ApiError as error:
            problem, status_code = problem or api_problem(error), error.status
        totals = Totals(len(ambassadors), sum(a.helped for a in ambassadors),
                        sum(a.helped_completions for a in ambassadors), sum(a.sessions for a in ambassadors),
                        sum(a.people_in_sessions for a in ambassadors))
    villages = all_villages(session)
    first, before, after = _month_bounds(month)
    defaults = {"days": InviteIn.model_fields["days"].default, "max_uses": InviteIn.model_fields["max_uses"].default,
                "count": 1, "village": ""}
    return page(request, "ambassadors.html", official, problem=problem, status_code=status_code,
                ambassadors=ambassadors, totals=totals, ranking=ranking, month=month, month_first=first,
                month_before=before.strftime("%Y-%m"),
                month_after=after.strftime("%Y-%m") if after.strftime("%Y-%m") <= this_month else None,
                may_invite=manager is not None,
                villages=[v for v in villages if caller.may_see_village(v.id)],
                village_names={v.id: v.name for v in villages},
                values={**defaults, **(values or {})},
                bounds={name: _bounds(name) for name in NUMBERS})


def _manager(official):
    """The official as the caller of the routes that list ambassadors and make invites, or None
    when their role may not (a viewer)."""
    try:
        return held_to(official, api.may_manage)
    except NotAllowed:
        return None


@router.get("/ambassadors")
def ambassadors_page(request: Request, official: OfficialDep, session: SessionDep):
    return _board(request, official, session)


def qr_svg(text: str) -> Markup:
    """`text` as a QR code, inline SVG sized for the screen (the print stylesheet sizes it in mm).
    Made here from the code or the bot's link, never from what a resident typed."""
    import segno   # here, not at the top: a serving process needs it only when this page prints a code

    qr = segno.make(text, error="m")
    svg = qr.svg_inline(scale=1, border=QR_BORDER, omitsize=True, svgclass="qr", lineclass=None)
    side = (qr.symbol_size(scale=1, border=QR_BORDER)[0]) * QR_MODULE_PX
    size = f'width="{side}" height="{side}" shape-rendering="crispEdges" aria-hidden="true"'
    return Markup(svg.replace("<svg ", f"<svg {size} ", 1))


@dataclass(frozen=True)
class Card:
    invite: InviteOut
    qr: Markup
    encodes_link: bool


@router.post("/ambassadors/invites")
def make_invites(request: Request, official: OfficialDep, session: SessionDep, form: FormDep):
    caller = held_to(official, api.may_manage)       # a viewer: 403
    try:
        body, count = _invite(form)
    except BadField as error:
        return _board(request, official, session, values=form, problem=_problem(error.name), status_code=422)
    cards: list[Card] = []
    problem = None
    try:
        for _n in range(count):
            created = api.create_ambassador_invite(body=body, request=request, caller=caller, session=session)
            cards.append(Card(created, qr_svg(created.link or created.command), created.link is not None))
    except ApiError as error:
        session.rollback()
        if not cards:
            return _board(request, official, session, values=form, problem=api_problem(error),
                          status_code=error.status)
        # Each invite is committed on its own: those made before the error are real, so show them.
        problem = api_problem(error)
    names = {v.id: v.name for v in all_villages(session)}
    return page(request, "ambassadors_cards.html", official, cards=cards, village_names=names, asked=count,
                problem=problem)
