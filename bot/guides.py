"""Guide cards for Telegram's inline mode: "@bot vneid" in any chat lists lessons to send.

Matching uses the assistant's normalization (no dấu, shorthand), and accepts a word still
being typed ("vnei") or misspelt ("passcod"), because inline queries arrive as the user types.
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.ambassadors import GuideLink, deep_link
from bot.content.schema import LanguagePack
from bot.i18n import translator
from bot.qa.normalize import Normalizer
from bot.replies import Button

MAX_RESULTS = 50   # Telegram's limit for answerInlineQuery


@dataclass(frozen=True)
class Card:
    id: str                     # unique per result, at most 64 bytes
    title: str
    description: str
    text: str                   # the message sent into the chat
    buttons: list[list[Button]]


def _word_score(word: str, words: set[str]) -> float:
    if word in words:
        return 1.0
    if any(w.startswith(word) for w in words) and len(word) >= 2:
        return 0.8
    best = max((fuzz.ratio(word, w) for w in words), default=0)
    return 0.6 if best >= 80 and len(word) >= 4 else 0.0


def guide_cards(pack: LanguagePack, normalizer: Normalizer, query: str, ambassador_id: int,
                bot_username: str | None) -> list[Card]:
    _ = translator(pack.code)
    words = normalizer.content(normalizer.tokens(query))
    scored: list[tuple[float, int, int, str, int]] = []
    order = 0
    for course in pack.ordered_courses:
        course_words = set(normalizer.tokens(f"{course.title} {course.button} {course.id}"))
        for index, step in enumerate(course.steps):
            order += 1
            if not words:
                if index == 0:
                    scored.append((1.0, order, 0, course.id, index))
                continue
            step_words = course_words | set(normalizer.tokens(step.title))
            score = sum(_word_score(w, step_words) for w in words) / len(words)
            if score >= 0.5:
                # A course's first step ranks above its later ones at the same score.
                scored.append((score, order, -int(index == 0), course.id, index))
    scored.sort(key=lambda item: (-item[0], item[2], item[1]))
    cards = []
    for _score, _order, _first, course_id, index in scored[:MAX_RESULTS]:
        course = pack.courses[course_id]
        step = course.steps[index]
        link = GuideLink(course.id, index, ambassador_id)
        text = _("📚 «{course}» — step {n}: {step}\nA free lesson from the {movement} assistant of {commune}. "
                 "Tap the button to learn it step by step.").format(
            course=course.button, n=index + 1, step=step.title, movement=pack.assistant.movement_name,
            commune=pack.assistant.commune_name)
        buttons = []
        if bot_username:
            buttons = [[Button(_("▶️ Open the lesson"), url=deep_link(bot_username, link.payload))]]
        cards.append(Card(id=f"{course.id}:{index}"[:64], title=course.button,
                          description=_("Step {n}: {step}").format(n=index + 1, step=step.title),
                          text=text, buttons=buttons))
    return cards
