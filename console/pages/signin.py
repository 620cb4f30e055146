"""Signing in and out. Wrong passwords slow the account down, then lock it (security.POLICY);
every sign-in, failure and lock goes to the audit log."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from admin_api.deps import Caller, audit
from bot.i18n import N_
from console.security import SESSION_HOURS, close_session, open_session, same_secret, sign_in, utcnow
from console.web import COOKIE, FormDep, OfficialDep, SessionDep, _, back_to, commune_tz, local, page
from console.security import find_session

router = APIRouter()
LOGIN_COOKIE = "hvs_login"     # double-submit token of the sign-in form (there is no session yet)
WRONG = N_("The username or password is wrong.")
WAIT = N_("Too many wrong passwords. Please try again after {time}.")
LOCKED = N_("Too many wrong passwords: this account is locked until {time}. "
            "If you forgot the password, ask the commune's IT officer for a new one.")


def _safe_next(target: str | None) -> str:
    """Only a console path: a link must not send an official elsewhere after signing in."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin"


def _form(request: Request, problem: str | None = None, status_code: int = 200, username: str = ""):
    token = secrets.token_urlsafe(24)
    response = page(request, "signin.html", None, login_token=token, problem=problem, username=username,
                    next=_safe_next(request.query_params.get("next")), status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/admin",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.get("/login")
def show_sign_in(request: Request, session: SessionDep):
    if find_session(session, request.cookies.get(COOKIE), utcnow()) is not None:
        return RedirectResponse("/admin", status_code=303)
    return _form(request)


@router.post("/login")
def do_sign_in(request: Request, session: SessionDep, username: Annotated[str, Form(max_length=200)] = "",
               password: Annotated[str, Form(max_length=1000)] = "", login_token: Annotated[str, Form()] = "",
               next: Annotated[str, Form()] = "/admin"):
    if not same_secret(login_token, request.cookies.get(LOGIN_COOKIE) or "\0"):
        return _form(request, _("This form has expired. Please reload the page and try again."), 403, username)
    now = utcnow()
    outcome = sign_in(session, username, password, now)
    if outcome.user is None:
        account = outcome.account
        # The account's id, never the typed username: it may be a password typed in the wrong box.
        actor = Caller(f"user {account.id} ({account.username})" if account else "console", "viewer")
        action = ("console.sign_in_refused" if outcome.refused else
                  "console.locked" if outcome.locked else "console.sign_in_failed")
        audit(session, actor, action, f"user {account.id}" if account else "unknown user")
        session.commit()
        if outcome.wait_until is None:
            return _form(request, _(WRONG), 401, username)
        when = local(outcome.wait_until, commune_tz(request), "%H:%M:%S %d/%m/%Y")
        return _form(request, _(LOCKED if outcome.locked else WAIT).format(time=when), 429, username)
    user = outcome.user
    token = open_session(session, user, now)
    audit(session, Caller(f"user {user.id} ({user.username})", user.role, user.village_id), "console.sign_in",
          f"user {user.id}")
    session.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/admin",
                        secure=request.url.scheme == "https", max_age=SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


@router.post("/logout")
def sign_out(official: OfficialDep, form: FormDep, session: SessionDep):
    close_session(session, official.session_hash)
    audit(session, official.caller, "console.sign_out", f"user {official.user_id}")
    session.commit()
    response = back_to("/admin/login", "signed-out")
    response.delete_cookie(COOKIE, path="/admin")
    return response
