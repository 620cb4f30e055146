"""Officials' accounts: argon2 passwords, sign-in with a slow-down and a lock, browser sessions
and their CSRF tokens.

An account maps to the same Caller (role and village) as an API token, so the console is held
to the scope the admin API enforces, by the same code (admin_api.deps).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from admin_api.deps import ROLES, Caller
from bot.models import ConsoleSession, ConsoleUser

HASHER = PasswordHasher()       # argon2id with the library's current parameters
MIN_PASSWORD = 10
SESSION_HOURS = 12


class AccountError(ValueError):
    """A bad argument to create-user: the message names it."""


@dataclass(frozen=True)
class LoginPolicy:
    """Wrong passwords in a row: the first `free` cost nothing; each of the next ones makes the
    account wait before another try, doubling from `first_wait`; at `lock_after` it is locked for
    `lock_minutes`. A right password resets the count. While an account waits, no password is
    even checked, so a guesser cannot go faster than the policy."""

    free: int = 2
    first_wait: timedelta = timedelta(seconds=30)
    lock_after: int = 5
    lock_minutes: int = 15

    def wait_after(self, failures: int) -> timedelta | None:
        if failures <= self.free:
            return None
        if failures >= self.lock_after:
            return timedelta(minutes=self.lock_minutes)
        return self.first_wait * 2 ** (failures - self.free - 1)


POLICY = LoginPolicy()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: `user` when it worked, else `wait` (until when) or nothing
    (wrong username or password, said the same way for both)."""

    user: ConsoleUser | None = None       # signed in
    account: ConsoleUser | None = None    # the account tried, when the username exists
    wait_until: datetime | None = None
    locked: bool = False                  # the account is locked (not just slowed down)
    refused: bool = False                 # it had to wait: the password was not even checked


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, username: str, password: str, role: str, village_id: str | None) -> ConsoleUser:
    username = username.strip().lower()
    if not username or len(username) > 64:
        raise AccountError("--username: 1 to 64 characters")
    if role not in ROLES:
        raise AccountError(f"--role: one of {', '.join(ROLES)}")
    if (role == "village") != (village_id is not None):
        raise AccountError("--village: needed for the village role, and only for it")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
        raise AccountError(f"--username: {username} exists already")
    user = ConsoleUser(username=username, password_hash=HASHER.hash(password), role=role, village_id=village_id,
                       failed_logins=0)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: ConsoleUser, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    user.password_hash = HASHER.hash(password)
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


_dummy_hash: str | None = None
_dummy_lock = threading.Lock()


def dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so that "no such user" takes as long
    as "wrong password" and the answer does not tell which usernames exist. Made on first need,
    not at import: hashing takes argon2's 64 MiB, which a server nobody signs in to should not
    pay at every start. The lock makes it once even when the first sign-ins come together."""
    global _dummy_hash
    if _dummy_hash is None:
        with _dummy_lock:
            if _dummy_hash is None:
                _dummy_hash = HASHER.hash(secrets.token_hex(16))
    return _dummy_hash


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(session: Session, username: str, password: str, now: datetime, policy: LoginPolicy = POLICY) -> SignIn:
    """Checks a password under the policy; the caller commits (the count must be kept)."""
    # Before the username is looked up: the first sign-in pays for making the dummy hash whether
    # the username exists or not, so not even that one tells them apart.
    dummy = dummy_hash()
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username.strip().lower(),
                                                    ConsoleUser.disabled_at.is_(None)))
    if user is None:
        _verify(dummy, password)
        return SignIn()
    if user.locked_until is not None and user.locked_until > now:
        return SignIn(account=user, wait_until=user.locked_until, locked=user.failed_logins >= policy.lock_after,
                      refused=True)
    if _verify(user.password_hash, password):
        user.failed_logins, user.locked_until = 0, None
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = HASHER.hash(password)
        return SignIn(user=user, account=user)
    user.failed_logins += 1
    wait = policy.wait_after(user.failed_logins)
    if wait is None:
        return SignIn(account=user)
    user.locked_until = now + wait
    return SignIn(account=user, wait_until=user.locked_until, locked=user.failed_logins >= policy.lock_after)


def open_session(session: Session, user: ConsoleUser, now: datetime) -> str:
    """A new browser session; returns the cookie's token (kept only as its hash)."""
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(token_hash=hash_token(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    # Expired sessions of anyone go when someone signs in: no job needed.
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    return token


@dataclass(frozen=True)
class Official:
    """A signed-in official, as the pages see them."""

    user_id: int
    username: str
    role: str
    village_id: str | None
    csrf_token: str
    session_hash: str

    @property
    def caller(self) -> Caller:
        return Caller(f"user {self.user_id} ({self.username})", self.role, self.village_id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def find_session(session: Session, token: str | None, now: datetime) -> Official | None:
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(ConsoleSession, ConsoleUser).join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.expires_at > now,
               ConsoleUser.disabled_at.is_(None))).first()
    if row is None:
        return None
    browser, user = row
    return Official(user.id, user.username, user.role, user.village_id, browser.csrf_token, browser.token_hash)


def close_session(session: Session, session_hash: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == session_hash))


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
