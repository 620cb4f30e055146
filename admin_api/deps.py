"""Dependencies shared by the admin routers: the database session, the caller and its scope.

Roles:
  admin    the commune: everything;
  village  one village: its residents, broadcasts to it, its report;
  viewer   reads reports only.
A missing or unknown token is 401; a request outside the token's scope is 403.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_api.errors import ApiError
from bot.addresses import client_address, wait_seconds
from bot.i18n import N_
from bot.models import AdminToken, AuditEntry

bearer = HTTPBearer(auto_error=False)
ROLES = ("admin", "village", "viewer")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


@dataclass(frozen=True)
class Caller:
    name: str          # shown in the audit log: "token 3 (village head Bản A)", never the token
    role: str
    village_id: str | None = None

    def may_see_village(self, village_id: str | None) -> bool:
        return self.role != "village" or village_id == self.village_id


class WrongTokens:
    """Wrong tokens tried from one address: past the limit, that address waits before any token
    is even checked, so tokens cannot be guessed at speed. In this process's memory."""

    LIMIT = "10 per minute"

    def __init__(self) -> None:
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self._item = parse(self.LIMIT)

    def wait_seconds(self, address: str) -> int:
        """0 if this address may try a token now, else how long it must wait."""
        if self._windows.test(self._item, "wrong-token", address):
            return 0
        return wait_seconds(self._windows, self._item, "wrong-token", address)

    def failed(self, address: str) -> None:
        self._windows.hit(self._item, "wrong-token", address)


def wrong_tokens(request: Request) -> WrongTokens:
    state = request.app.state
    if getattr(state, "wrong_tokens", None) is None:
        state.wrong_tokens = WrongTokens()
    return state.wrong_tokens


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                 session: Session = Depends(get_session)) -> Caller:
    if credentials is None:
        raise ApiError(401, N_("A bearer token is needed"), field="Authorization")
    address = client_address(request)
    guard = wrong_tokens(request)
    if seconds := guard.wait_seconds(address):
        raise ApiError(429, N_("Too many wrong tokens from this address. Please wait {seconds} seconds."),
                       field="Authorization", headers={"Retry-After": str(seconds)}, seconds=seconds)
    digest = hash_token(credentials.credentials)
    seeded = request.app.state.admin_token_hash  # HOCVUSO_ADMIN_TOKEN: only its hash is kept
    if seeded is not None and hmac.compare_digest(digest, seeded):
        return Caller("HOCVUSO_ADMIN_TOKEN", "admin")
    # A lookup by hash: the token itself is never stored or compared.
    token = session.scalar(select(AdminToken).where(AdminToken.token_hash == digest,
                                                    AdminToken.revoked_at.is_(None)))
    if token is None:
        guard.failed(address)
        raise ApiError(401, N_("The bearer token is wrong or revoked"), field="Authorization")
    return Caller(f"token {token.id} ({token.name})", token.role, token.village_id)


def allow(*roles: str):
    """Dependency: the caller, if its role is one of `roles`; 403 otherwise."""
    def check(caller: Caller = Depends(authenticate)) -> Caller:
        if caller.role not in roles:
            raise ApiError(403, N_("This token's role may not do this"), field="Authorization")
        return caller
    return check


require_admin = allow("admin")


def village_scope(caller: Caller, village: str | None) -> str | None:
    """The village a request may look at: a village token is pinned to its own."""
    if caller.role != "village":
        return village
    if village is not None and village != caller.village_id:
        raise ApiError(403, N_("This token may only reach its own village"), field="village")
    return caller.village_id


def audit(session: Session, caller: Caller, action: str, subject: str, detail: dict | None = None) -> None:
    """Record a write: who, what, when. Ids and field names only, never a resident's data."""
    session.add(AuditEntry(actor=caller.name, action=action, subject=subject, detail=detail))


def get_knowledge(request: Request):
    return request.app.state.assistant.knowledge


def get_settings(request: Request):
    return request.app.state.settings
