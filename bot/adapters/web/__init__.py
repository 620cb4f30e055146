"""Web chat: a small page and a JSON endpoint, rendering the same core replies as Telegram."""
from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, model_validator

from bot.i18n import translator
from bot.ordering import KeyedLocks
from bot.replies import Contact, Incoming

PLATFORM = "web"
PAGE = Path(__file__).with_name("chat.html")

router = APIRouter()
_sessions = KeyedLocks()


class ChatInput(BaseModel):
    session: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$",
                                  description="random id the page keeps in localStorage")]
    text: Annotated[str | None, Field(max_length=4096)] = None
    button: Annotated[str | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _one_of(self) -> ChatInput:
        if (self.text is None) == (self.button is None):
            raise ValueError("send exactly one of 'text' or 'button'")
        return self


class ReplyOut(BaseModel):
    text: str
    edit: bool
    buttons: list[list[dict[str, str]]]


class ChatOutput(BaseModel):
    replies: list[ReplyOut]


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/chat")


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page() -> str:
    _ = translator("vi")
    strings = {"title": _("Digital skills assistant"), "placeholder": _("Type a short question…"),
               "send": _("Send"), "offline": _("No connection. Please try again.")}
    return Template(PAGE.read_text(encoding="utf-8")).substitute(
        title=strings["title"], strings=json.dumps(strings, ensure_ascii=False))


@router.post("/chat/api/send", response_model=ChatOutput, tags=["web chat"])
async def send(body: ChatInput, request: Request) -> ChatOutput:
    incoming = Incoming.button(body.button) if body.button is not None else Incoming.parse_typed(body.text)
    assistant = request.app.state.assistant
    async with _sessions(body.session):
        replies = await assistant.handle_async(Contact(PLATFORM, body.session), incoming)
    return ChatOutput(replies=[ReplyOut(**r.to_dict()) for r in replies])
