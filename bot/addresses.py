"""Rate limits by client address (the web chat, wrong admin tokens): where a request comes
from, and how long a limited one must wait."""
from __future__ import annotations

import ipaddress
import math
import time

from limits import RateLimitItem
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request


def wait_seconds(windows: MovingWindowRateLimiter, item: RateLimitItem, *key: str) -> int:
    """Whole seconds (at least 1) until `key` has room in `item`'s window again: Retry-After."""
    free_at = windows.get_window_stats(item, *key).reset_time
    return max(1, math.ceil(free_at - time.time()))


def client_address(request: Request) -> str:
    """The address the per-address limits count by.

    Behind a reverse proxy every request arrives from the proxy. uvicorn's proxy headers (on by
    default in `hocvuso serve`) then put the client from X-Forwarded-For in request.client, but
    only for a trusted proxy: 127.0.0.1 and ::1 unless FORWARDED_ALLOW_IPS names others. A proxy
    on another machine must be named there, or every resident counts as that proxy's address.
    An IPv6 client counts by its /64, since one home or phone gets a whole /64.
    """
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
