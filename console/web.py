"""The console's plumbing: Jinja2 pages in the officials' language, the signed-in official as a
typed dependency, CSRF-checked forms, and messages carried across a redirect."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from admin_api.deps import ROLES, Caller, require_admin
from admin_api.errors import ApiError
from bot.i18n import N_, translations, translator
from console.security import Official, find_session, same_secret, utcnow

HERE = Path(__file__).resolve().parent
COOKIE = "hvs_console"
LANGUAGE = "vi"       # officials read the console in Vietnamese; the msgids are English
_ = translator(LANGUAGE)

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_translations(translations(LANGUAGE), newstyle=True)
templates.env.globals["number"] = lambda n: "—" if n is None else f"{n:,}".replace(",", ".")
templates.env.globals["percent"] = lambda p: "—" if p is None else f"{p:.1f}".replace(".", ",") + "%"


class SignInNeeded(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class NotAllowed(Exception):
    """Signed in, but the role may not do this."""


class FormExpired(Exception):
    """A form posted without the session's CSRF token (an old page, or another site's form)."""


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_official(request: Request, session: SessionDep) -> Official:
    official = find_session(session, request.cookies.get(COOKIE), utcnow())
    if official is None:
        raise SignInNeeded()
    return official


OfficialDep = Annotated[Official, Depends(current_official)]


def held_to(official: Official, check: Callable[[Caller], Caller]) -> Caller:
    """The official as the admin API's caller, once the route's own role check (admin_api.deps.allow)
    accepts them: the console reaches exactly what the same role's API token reaches."""
    try:
        return check(official.caller)
    except ApiError as error:
        if error.status == 403:
            raise NotAllowed() from None
        raise


def admin_only(official: OfficialDep) -> Official:
    held_to(official, require_admin)
    return official


AdminDep = Annotated[Official, Depends(admin_only)]

# The console's sections, each with the roles that may open it: the roles of the API routes it
# calls (a viewer reads the overview, the ranking and the reports).
NAV = (("/admin", N_("Overview"), ROLES), ("/admin/broadcasts", N_("Broadcasts"), ("admin", "village")),
       ("/admin/events", N_("Events"), ("admin", "village")), ("/admin/villages", N_("Villages"), ("admin", "village")),
       ("/admin/ambassadors", N_("Ambassadors"), ROLES), ("/admin/unanswered", N_("Unanswered"), ("admin",)),
       ("/admin/recordings", N_("Listening"), ROLES),
       ("/admin/reports", N_("Reports"), ROLES))
templates.env.globals["NAV"] = NAV


async def checked_form(request: Request, official: OfficialDep) -> dict[str, Any]:
    """The posted form, once its CSRF token matches the session's (compared in constant time).
    Multi-valued fields (checkboxes) come as lists under their name."""
    form = await request.form()
    if not same_secret(form.get("csrf"), official.csrf_token):
        raise FormExpired()
    values: dict[str, Any] = {}
    for key in form.keys():
        items = form.getlist(key)
        values[key] = items if len(items) > 1 or key.endswith("[]") else items[0]
    return values


FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def commune_tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def local(moment: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M %d/%m/%Y") -> str:
    return "" if moment is None else moment.astimezone(tz).strftime(fmt)


def page(request: Request, template: str, official: Official | None, **context: Any) -> HTMLResponse:
    tz = commune_tz(request)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context.setdefault("notice", _(notice) if notice else None)
    context.setdefault("problem", None)
    return templates.TemplateResponse(request, template, {
        "official": official, "tz": tz, "local": lambda m, fmt="%H:%M %d/%m/%Y": local(m, tz, fmt),
        "commune": request.app.state.assistant.knowledge.pack(LANGUAGE).assistant.commune_name, **context},
        status_code=context.pop("status_code", 200))


def back_to(path: str, notice: str | None = None) -> RedirectResponse:
    """After a change, back to a page (POST, redirect, GET: a reload does not post twice). The
    notice is a key of NOTICES, never free text: a link cannot make the console say anything."""
    path, hash_mark, fragment = path.partition("#")
    if notice:
        path += ("&" if "?" in path else "?") + f"notice={quote(notice)}"
    return RedirectResponse(path + hash_mark + fragment, status_code=303)


def api_problem(error: ApiError) -> str:
    """An admin API error, as a sentence for the official."""
    return _(error.message).format(field=error.field, **error.params)


NOTICES = {
    "saved": N_("Saved."),
    "sent": N_("The broadcast is queued. Its progress is below."),
    "resent": N_("A new broadcast to those who had failed is queued."),
    "cancelled": N_("The messages still waiting were stopped."),
    "deleted": N_("Deleted."),
    "signed-out": N_("You are signed out."),
}
