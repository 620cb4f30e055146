"""The web chat on another website, such as the commune's: one tag,
`<script src="https://HOST/chat/embed.js" defer></script>`, adds a round button that opens /chat
in a panel (full screen on a phone, at the side on a computer).

The script is embed.js beside this file, a template whose strings come from the catalog. It
loads nothing from a CDN, sets no cookie and reads none of the site's, and styles its elements
through the DOM's style objects (no <style> element, no style markup, which a strict policy would
refuse), inside a shadow root: a site with a strict
Content-Security-Policy only needs to allow this host in script-src and frame-src.

Only the sites named in HOCVUSO_EMBED_ORIGINS may show /chat in a frame (frame-ancestors); with
none named, only this server's own pages may.
"""
from __future__ import annotations

import json
from pathlib import Path
from string import Template

from fastapi import APIRouter, Depends, Request, Response

from bot.i18n import translator

SCRIPT = Path(__file__).with_name("embed.js")
CACHE_SECONDS = 3600     # a site's visitors fetch the script at most once an hour

router = APIRouter()


def frame_ancestors(request: Request, response: Response) -> None:
    """A dependency of the /chat page: the sites that may show it in a frame (its
    Content-Security-Policy). The page must return its body, not a Response, for the header to stay."""
    settings = getattr(request.app.state, "settings", None)
    origins = settings.embed_origins.split() if settings is not None else []
    response.headers["Content-Security-Policy"] = "frame-ancestors " + " ".join(["'self'", *origins])


def script_text() -> str:
    _ = translator("vi")
    strings = {"open": _("Open the chat with the digital skills assistant"),
               "title": _("Digital skills assistant"),
               "close": _("Close"),
               "close_label": _("Close the chat")}
    # ASCII only (\u escapes): the script reads the same whatever encoding the site's page has.
    return Template(SCRIPT.read_text(encoding="utf-8")).substitute(strings=json.dumps(strings, ensure_ascii=True))


@router.get("/chat/embed.js", include_in_schema=False)
def embed_script() -> Response:
    return Response(script_text(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}",
                             # Sites that isolate themselves (Cross-Origin-Embedder-Policy) may load it.
                             "Cross-Origin-Resource-Policy": "cross-origin",
                             "X-Content-Type-Options": "nosniff"})


# For the /chat route's `dependencies=[...]` (bot/channels/web/chat.py).
ALLOW_FRAMING = Depends(frame_ancestors)
