"""Free text: greetings and thanks get a short reply; questions get the best FAQ answer,
related questions and a button into the course; below the confidence threshold, an honest
"I did not understand" with the topics and the people who can help."""
from __future__ import annotations

import re
from typing import Iterable
from weakref import WeakKeyDictionary

from bot.content.schema import FaqEntry
from bot.handlers.fallback import MAX_TEXT_CHARS, stale_or_unknown_button
from bot.handlers.menu import menu_buttons, menu_reply
from bot.handlers.turn import Turn
from bot.models import UnansweredQuestion
from bot.qa import QaIndex
from bot.qa.normalize import LogRules
from bot.reference import villages as all_villages
from bot.replies import Button, Reply

SMALLTALK_MAX_WORDS = 6
RELATED_LABEL_CHARS = 60


def _short(text: str, limit: int = RELATED_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def smalltalk_reply(turn: Turn, text: str) -> str | None:
    index = turn.qa
    tokens = index.normalizer.tokens(text)
    if not tokens or len(tokens) > SMALLTALK_MAX_WORDS:
        return None
    for kind in turn.pack.smalltalk.kinds:
        words = set(kind.words)
        if all(t in words or t in index.normalizer.stopwords for t in tokens) and words & set(tokens):
            return kind.reply
    return None


def faq_reply(turn: Turn, entry: FaqEntry, related: list[FaqEntry]) -> Reply:
    _ = turn._
    rows: list[list[Button]] = []
    course = turn.pack.courses.get(entry.course_id)
    index = course.step_number(entry.step_id) if course else None
    if course is not None and index is not None:
        rows.append([Button(_("📘 Learn more: {course}, step {n}").format(course=course.button, n=index + 1),
                            f"s:{course.id}:{index}")])
    rows += [[Button("❓ " + _short(r.question), f"f:{r.id}")] for r in related]
    rows.append([Button(_("🏠 Menu"), "m")])
    return Reply(f"❓ {entry.question}\n\n{entry.answer}", rows)


# Built once per index (one per language) from its pack's privacy.yaml and the FAQ's words.
_log_rules: WeakKeyDictionary[QaIndex, LogRules] = WeakKeyDictionary()
_NOTE = re.compile(r"\([^)]*\)")   # "Tông Lạnh (cũ)": residents do not type the note


def log_rules(turn: Turn) -> LogRules:
    index = turn.qa
    rules = _log_rules.get(index)
    if rules is None:
        privacy = turn.pack.privacy
        rules = _log_rules[index] = index.normalizer.log_rules(
            privacy.name_cues, privacy.secret_cues, privacy.value_words, privacy.name_ends, index.vocabulary)
    return rules


def place_names(villages: Iterable) -> set[str]:
    """Each village (anything with a name and a kind) as residents would name it: with and
    without its kind ("Bản Nà Sy", "Nà Sy")."""
    names = set()
    for village in villages:
        name = " ".join(_NOTE.sub(" ", village.name).split())
        names.add(name)
        if name.lower().startswith(village.kind.lower() + " "):
            names.add(name[len(village.kind) + 1:])
    return names


def log_unanswered(turn: Turn, text: str) -> None:
    """Keep the question for content editors, without what identifies the person; only from a
    resident who agreed to keep data (nothing is kept from anyone else)."""
    if turn.resident is None:
        return
    # Officials add villages through the API, so the database's list counts too.
    places = place_names([*turn.knowledge.villages, *all_villages(turn.session)])
    own_name = f"{turn.resident.first_name or ''} {turn.contact.first_name or ''}".split()
    logged = turn.qa.normalizer.for_log(text, log_rules(turn), [*places, *own_name])
    if not logged:
        return   # emoji, punctuation or personal data only: nothing an editor could use
    turn.upsert(UnansweredQuestion, {"text": logged, "count": 1, "first_seen": turn.now, "last_seen": turn.now},
                ["text"], {"count": UnansweredQuestion.count + 1, "last_seen": turn.now})


def not_understood(turn: Turn, text: str) -> list[Reply]:
    _ = turn._
    log_unanswered(turn, text)
    helpers = ", ".join(turn.pack.assistant.in_person_helpers)
    return [menu_reply(turn, _("Sorry, I did not understand that question, and I do not want to guess.\n"
                               "Please pick a topic below, or ask a {ambassador} in your village, or: "
                               "{helpers}.").format(ambassador=turn.pack.assistant.ambassador_name,
                                                    helpers=helpers))]


def answer_text(turn: Turn, text: str) -> list[Reply]:
    _ = turn._
    index = turn.qa
    if len(text) > MAX_TEXT_CHARS:
        return [menu_reply(turn, _("That message is too long for me. Please ask in one short sentence."))]
    small = smalltalk_reply(turn, text)
    if small is not None:
        return [Reply(small, menu_buttons(turn))]
    found = index.answer(text)
    if found is None:
        return not_understood(turn, text)
    if found.target.kind == "step":
        course_id, step_id = found.target.key.split("/", 1)
        course = turn.pack.courses[course_id]
        n = course.step_number(step_id)
        return [Reply(_("This is explained in «{course}», step {n}: {title}.").format(
                    course=course.title, n=n + 1, title=course.steps[n].title),
                      [[Button(_("📘 Open step {n}").format(n=n + 1), f"s:{course.id}:{n}")],
                       [Button(_("🏠 Menu"), "m")]])]
    related = [index.faq[t.key] for t in found.related]
    return [faq_reply(turn, index.faq[found.target.key], related)]


def show_faq(turn: Turn, args: list[str]) -> list[Reply]:
    """A related-question button: show that entry."""
    entry = turn.qa.faq.get(args[0] if args else "")
    if entry is None:
        return stale_or_unknown_button(turn)
    return [faq_reply(turn, entry, [])]
