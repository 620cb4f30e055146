"""Dependencies shared by the admin routers: the database session and token auth."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

bearer = HTTPBearer(auto_error=False)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def require_admin(request: Request,
                  credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
    """Only the hash of HOCVUSO_ADMIN_TOKEN is kept in memory; compare in constant time."""
    expected = request.app.state.admin_token_hash
    if credentials is None or expected is None or not hmac.compare_digest(
            hash_token(credentials.credentials), expected):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    return "admin"
