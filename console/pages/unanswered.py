"""Câu hỏi chưa trả lời (admin only): what residents asked that the assistant could not answer,
and the answers they marked 👎, most asked first (the admin API's own list). For each, the entry
the free-text assistant ranks first for it now, with how sure it is, even below the threshold at
which it answers: what an editor would extend with a new phrasing, or see is missing."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fastapi import APIRouter, Request

from admin_api.errors import ApiError
from admin_api.routers.unanswered import list_unanswered
from bot.content.schema import LanguagePack
from bot.qa import QaIndex
from bot.qa.index import ANSWER, ASK, Target, decide
from console.web import LANGUAGE, AdminDep, SessionDep, _, api_problem, page

router = APIRouter()
DEFAULT_LIMIT, MAX_LIMIT = 50, 500     # the API's bounds
LIMITS = (50, 100, 200, 500)


@dataclass(frozen=True)
class Entry:
    """An FAQ entry or a course step, as an editor finds it in knowledge/."""

    kind: str           # "faq" or "step"
    key: str            # FAQ id, or "course/step-id"
    title: str | None   # the FAQ's question, or "course title › step title"; None if gone


@dataclass(frozen=True)
class Closest:
    entry: Entry
    score: float        # what ranks candidates (coverage, wording, letters)
    sure: float         # the confidence model's 0..1
    verdict: str | None  # what the assistant would do now: ANSWER, ASK, or None (decline)


def describe(pack: LanguagePack, index: QaIndex, target: Target | None = None, key: str | None = None) -> Entry:
    """An answer target, or the key a 👎 was recorded for ("course/step-id" is a step)."""
    kind, key = (target.kind, target.key) if target is not None else ("step" if "/" in key else "faq", key)
    if kind == "faq":
        entry = index.faq.get(key)
        return Entry(kind, key, entry.question if entry else None)
    course_id, _slash, step_id = key.partition("/")
    course = pack.courses.get(course_id)
    step = next((s for s in course.steps if s.id == step_id), None) if course else None
    return Entry(kind, key, f"{course.title} › {step.title}" if step else None)


def closest(pack: LanguagePack, index: QaIndex, text: str) -> Closest | None:
    """The candidate the assistant ranks first for `text`, with the decision it would take now
    (bot.qa.index.QaIndex.answer, without the related questions); None when no entry shares
    anything with it."""
    ranked = index.search(text)
    if not ranked:
        return None
    best = ranked[0]
    rival = index.rival(ranked)
    sure = index.confidence(best, rival)
    lead = best.score - rival.score if rival is not None else math.inf
    verdict = decide(index.settings, sure, index.exact(best), lead)
    return Closest(describe(pack, index, best.target), best.score, sure, verdict)


@router.get("/unanswered")
def unanswered_page(request: Request, official: AdminDep, session: SessionDep):
    assistant = request.app.state.assistant
    knowledge = assistant.knowledge
    # Rows keep no language: they are read with the console's language, as most residents ask.
    language = LANGUAGE if LANGUAGE in assistant.qa else knowledge.default_language
    pack, index = knowledge.pack(language), assistant.qa[language]
    asked = request.query_params.get("limit", "")
    limit, problem, status = DEFAULT_LIMIT, None, 200
    if asked:
        if re.fullmatch(r"[0-9]{1,4}", asked) and 1 <= int(asked) <= MAX_LIMIT:
            limit = int(asked)
        else:
            problem, status = _("Show between 1 and {high} questions.").format(high=MAX_LIMIT), 422
    rows = []
    try:
        listed = list_unanswered(limit=limit, session=session, settings=request.app.state.settings)
    except ApiError as error:
        listed, problem, status = [], api_problem(error), error.status
    for row in listed:
        got = describe(pack, index, key=row.answer) if row.answer else None
        rows.append((row, got, closest(pack, index, row.text)))
    return page(request, "unanswered.html", official, rows=rows, limit=limit, limits=LIMITS, problem=problem,
                status_code=status, answer_at=index.settings.answer_at, ANSWER=ANSWER, ASK=ASK)
