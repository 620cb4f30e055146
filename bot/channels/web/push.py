"""Web Push for the web chat: a browser that allowed notifications hands the page a
subscription (an endpoint at its push service and two keys); the page posts it here, and the
outbox then reaches that resident like a messenger would (courier.py sends).

- The VAPID key signs every push. It is made once and kept in `server_keys`, so every process
  and every restart signs with the key the browsers subscribed with.
- The server posts to whatever endpoint a browser hands it, so only https addresses on the
  known push services (WEBPUSH_HOSTS) are stored: the chat must not make it post anywhere else.
- Only a resident (a chat that consented) can subscribe; without a subscription they are not
  reachable (bot/channels/reach.py), so nothing is queued for or counted with them.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from admin_api.errors import ApiError
from admin_api.schemas import ErrorOut
from bot.addresses import client_address
from bot.channels.web import PLATFORM
from bot.channels.web.chat import limits_of, too_many
from bot.config import LOCAL_HOSTS
from bot.i18n import N_
from bot.models import Resident, ServerKey, WebPushSubscription

VAPID = "vapid"                   # its name in server_keys
SESSION_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"   # as ChatInput.session in chat.py: the page's own id

NOT_ON = N_("Notifications are not available on this server")
NO_RESIDENT = N_("This chat has saved nothing yet, so it cannot take notifications")
BAD_ENDPOINT = N_("{field} must be an https address of a known push service")
BAD_KEY = N_("{field} is not a valid key of this browser")


# --- the VAPID key --------------------------------------------------------------------------

def vapid_key(sessions: sessionmaker[Session]) -> ec.EllipticCurvePrivateKey:
    """The server's VAPID key, made on first use. Two processes starting together may both
    make one: the first insert wins and the other reads it."""
    with sessions() as session:
        pem = session.scalar(select(ServerKey.value).where(ServerKey.name == VAPID))
        if pem is None:
            made = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()).decode()
            session.add(ServerKey(name=VAPID, value=made))
            try:
                session.commit()
                pem = made
            except IntegrityError:
                session.rollback()
                pem = session.scalar(select(ServerKey.value).where(ServerKey.name == VAPID))
    return serialization.load_pem_private_key(pem.encode(), password=None)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """As PushManager.subscribe wants its applicationServerKey: the uncompressed point, base64url."""
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


async def app_vapid_key(request: Request) -> ec.EllipticCurvePrivateKey:
    key = getattr(request.app.state, "vapid_key", None)
    if key is None:
        key = request.app.state.vapid_key = await asyncio.to_thread(vapid_key, request.app.state.sessions)
    return key


# --- checking what a browser hands us -----------------------------------------------------------

def allowed_endpoint(endpoint: str, hosts: str) -> bool:
    """https on a listed push service (`*.` for any subdomain); plain http only for this machine,
    and only when listed (the tests' fake push service)."""
    parts = urlsplit(endpoint)
    try:
        parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        return False
    listed = any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in hosts.lower().split())
    return listed and (parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS))


def b64url_bytes(value: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value):
        return None
    bare = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        return None


def browser_key(value: str) -> str | None:
    """p256dh: a point on P-256 (65 bytes, uncompressed), normalised to unpadded base64url."""
    raw = b64url_bytes(value)
    if raw is None or len(raw) != 65:
        return None
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return None
    return b64url(raw)


def auth_secret(value: str) -> str | None:
    raw = b64url_bytes(value)
    return b64url(raw) if raw is not None and len(raw) == 16 else None


# --- the endpoints ------------------------------------------------------------------------------

class Keys(BaseModel):
    p256dh: Annotated[str, Field(max_length=128)]
    auth: Annotated[str, Field(max_length=64)]


class SubscriptionIn(BaseModel):
    """PushSubscription.toJSON() as the browser gives it (expirationTime and the like are ignored)."""
    endpoint: Annotated[str, Field(max_length=1024)]
    keys: Keys


class PushIn(BaseModel):
    session: Annotated[str, Field(pattern=SESSION_PATTERN, description="the chat page's id, as in /chat/api/send")]
    subscription: SubscriptionIn


class Unsubscribe(BaseModel):
    session: Annotated[str, Field(pattern=SESSION_PATTERN)]


class PublicKeyOut(BaseModel):
    public_key: str


class PushState(BaseModel):
    subscribed: bool


router = APIRouter(prefix="/chat/api/push", tags=["web chat"])
ERRORS = {404: {"model": ErrorOut, "description": "Notifications are off on this server (no HOCVUSO_PUBLIC_URL), "
                                                  "or (field \"session\") this chat has no saved resident"},
          422: {"model": ErrorOut, "description": "error.field names what is wrong, e.g. "
                                                  "\"subscription.endpoint\" or \"subscription.keys.p256dh\""},
          429: {"model": ErrorOut, "description": "Too many requests: as /chat/api/send"}}


def _push_on(request: Request) -> None:
    if not request.app.state.settings.web_push_enabled:
        raise ApiError(404, NOT_ON)


@router.get("/key", response_model=PublicKeyOut, responses={404: ERRORS[404]})
async def push_key(request: Request) -> PublicKeyOut:
    """The key the page gives PushManager.subscribe (applicationServerKey)."""
    _push_on(request)
    return PublicKeyOut(public_key=public_key(await app_vapid_key(request)))


@router.post("", response_model=PushState, responses=ERRORS)
async def subscribe(body: PushIn, request: Request) -> PushState | JSONResponse:
    """Keep this browser's subscription for the resident of this chat (after their consent)."""
    _push_on(request)
    refusal = limits_of(request.app).admit(body.session, client_address(request), False)
    if refusal is not None:
        return too_many(refusal)
    sub = body.subscription
    if not allowed_endpoint(sub.endpoint, request.app.state.settings.webpush_hosts):
        raise ApiError(422, BAD_ENDPOINT, field="subscription.endpoint")
    p256dh, auth = browser_key(sub.keys.p256dh), auth_secret(sub.keys.auth)
    if p256dh is None:
        raise ApiError(422, BAD_KEY, field="subscription.keys.p256dh")
    if auth is None:
        raise ApiError(422, BAD_KEY, field="subscription.keys.auth")
    if not await asyncio.to_thread(_store, request.app.state.sessions, body.session, sub.endpoint, p256dh, auth):
        raise ApiError(404, NO_RESIDENT, field="session")
    return PushState(subscribed=True)


@router.delete("", response_model=PushState, responses={429: ERRORS[429]})
async def unsubscribe(body: Unsubscribe, request: Request) -> PushState | JSONResponse:
    """Forget this chat's subscriptions (the resident turned notifications off). Always allowed,
    even with push off: nothing is kept for a chat that asks to forget."""
    refusal = limits_of(request.app).admit(body.session, client_address(request), False)
    if refusal is not None:
        return too_many(refusal)
    await asyncio.to_thread(_forget_chat, request.app.state.sessions, body.session)
    return PushState(subscribed=False)


def _web_resident(session_id: str):
    return select(Resident.id).where(Resident.platform == PLATFORM, Resident.external_id == session_id)


def _store(sessions: sessionmaker[Session], session_id: str, endpoint: str, p256dh: str, auth: str) -> bool:
    """False if the chat has no resident. An endpoint is one browser: if another resident had
    it (a second chat in the same browser), it moves to this one."""
    for _attempt in range(2):   # a second try if another request inserted the same endpoint meanwhile
        with sessions() as session:
            resident_id = session.scalar(_web_resident(session_id))
            if resident_id is None:
                return False
            values = {"resident_id": resident_id, "p256dh": p256dh, "auth": auth}
            moved = session.execute(update(WebPushSubscription).where(WebPushSubscription.endpoint == endpoint)
                                    .values(**values))
            if not moved.rowcount:
                session.add(WebPushSubscription(endpoint=endpoint, **values))
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
    raise RuntimeError("could not store the push subscription")


def _forget_chat(sessions: sessionmaker[Session], session_id: str) -> None:
    with sessions.begin() as session:
        session.execute(delete(WebPushSubscription)
                        .where(WebPushSubscription.resident_id.in_(_web_resident(session_id).scalar_subquery())))
