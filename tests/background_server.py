"""An ASGI app on uvicorn in a daemon thread, on a free local port: the fake platform servers
run this way, so tests and the bot under test can use any event loop."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn


def serve_in_thread(app, name: str, port: int = 0) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Start `app` (lifespan on) on `port` (0: a free one); returns the server, its thread and its
    port once it answers. `app` may be a function of the port, for an app that must know its own
    address (HOCVUSO_PUBLIC_URL)."""
    sock = socket.socket()
    # Without TCP_NODELAY every answer waits ~40 ms for a delayed ACK (Nagle's algorithm),
    # which made each bot round trip take ~90 ms. Accepted connections inherit the option.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    if not hasattr(app, "router"):   # a function of the port, not the app itself
        app = app(port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    return server, thread, port
