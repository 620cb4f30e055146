"""A fake Web Push service (the part of FCM or Mozilla's autopush a server talks to), for tests.

Like tests/fakezalo.py it runs uvicorn in a background thread. A browser's subscription points
at `service.endpoint(name)`; the server POSTs the encrypted message there. Every request is
recorded (headers and body, for the test to decrypt as the browser would). It answers 201 like
the real services, or what a test sets for one endpoint:

    with FakePushService() as service:
        service.answers["b1"] = [410]             # then 201 again once the list is used up
        service.answers["b2"] = [(429, "1"), 201]  # 429 with Retry-After: 1, then accepted
        ...
        [request] = service.wait_for(1)

Like the real services it refuses (400) a request without a TTL or in another encoding than
aes128gcm, and (401) one without a VAPID Authorization header.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.background_server import serve_in_thread


@dataclass(frozen=True)
class PushRequest:
    name: str            # the endpoint's last part: which browser
    headers: dict        # lower-case names
    body: bytes
    status: int          # what the service answered


class FakePushService:
    def __init__(self) -> None:
        self.received: list[PushRequest] = []
        self.answers: dict[str, list] = {}
        self._lock = threading.Lock()
        self.port = 0
        self._server = None
        self.app = Starlette(routes=[Route("/push/{name}", self._push, methods=["POST"])])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    async def _push(self, request: Request) -> Response:
        name = request.path_params["name"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.body()
        status, retry_after = 201, None
        if "ttl" not in headers or headers.get("content-encoding") != "aes128gcm":
            status = 400
        elif not headers.get("authorization", "").startswith("vapid t="):
            status = 401
        else:
            with self._lock:
                queued = self.answers.get(name)
                if queued:
                    answer = queued.pop(0)
                    status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        with self._lock:
            self.received.append(PushRequest(name, headers, body, status))
        extra = {"Retry-After": retry_after} if retry_after else {}
        return Response(status_code=status, headers={"Location": f"/m/{len(self.received)}", **extra})

    def wait_for(self, n: int, timeout: float = 20.0) -> list[PushRequest]:
        """The first n requests, once they have come (the sender polls the outbox about once a second)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < n:
            assert time.monotonic() < deadline, f"{len(self.received)} of {n} pushes arrived"
            time.sleep(0.05)
        return self.received[:n]

    def start(self) -> FakePushService:
        self._server, self._thread, self.port = serve_in_thread(self.app, "fake-push")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
