"""Free text: greetings and thanks get a short reply; questions get the best FAQ answer,
related questions, a button into the course and 👍/👎; two answers the index cannot tell apart
get "did you mean…?"; below the confidence threshold, an honest "I did not understand" with the
topics and the people who can help."""
from __future__ import annotations

import re
from typing import Iterable
from weakref import WeakKeyDictionary

from sqlalchemy import select

from bot.button_data import Action, encode
from bot.content.schema import FaqEntry
from bot.handlers import votes
from bot.handlers.fallback import MAX_TEXT_CHARS, stale_or_unknown_button
from bot.handlers import listen
from bot.handlers.menu import menu_buttons, menu_reply
from bot.handlers.turn import Turn
from bot.models import UnansweredQuestion, Village
from bot.qa import QaIndex
from bot.qa.index import Answer, Target
from bot.qa.normalize import LogRules
from bot.replies import Button, Reply
from bot.share_codes import codes_in

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
    rows: list[list[Button]] = listen.listen_row(turn, listen.FAQ, entry.id)
    course = turn.pack.courses.get(entry.course_id)
    index = course.step_number(entry.step_id) if course else None
    if course is not None and index is not None:
        rows.append([Button(_("📘 Learn more: {course}, step {n}").format(course=course.button, n=index + 1),
                            encode(Action.STEP, course.id, index))])
    rows += [[Button("❓ " + _short(r.question), encode(Action.FAQ, r.id))] for r in related]
    rows.append(votes.vote_row(turn, encode(Action.FAQ, entry.id)))
    rows.append([Button(_("🏠 Menu"), encode(Action.MENU))])
    return Reply(f"❓ {entry.question}\n\n{entry.answer}", rows)


# Built once per index (one per language) from its pack's privacy.yaml and the FAQ's words.
_log_rules: WeakKeyDictionary[QaIndex, LogRules] = WeakKeyDictionary()
_NOTE = re.compile(r"\([^)]*\)")   # "Tông Lạnh (cũ)": residents do not type the note
_VILLAGE_NAMES = select(Village.name, Village.kind)   # rows, not objects: only these two are read


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


def question_for_log(turn: Turn, text: str) -> str:
    """The question as it may be kept, without what identifies the person ("" if nothing is
    left); for the unanswered log and for votes alike. Only call it for a consenting resident."""
    if codes_in(text, turn.pack.code_words):
        return ""   # a mistyped, stale or guessed share code: maybe someone's secret, never a question
    # Officials add villages through the API, so the database's list counts too.
    places = place_names([*turn.knowledge.villages, *turn.session.execute(_VILLAGE_NAMES)])
    own_name = f"{turn.resident.first_name or ''} {turn.contact.first_name or ''}".split()
    return turn.qa.normalizer.for_log(text, log_rules(turn), [*places, *own_name])


def remember_question(turn: Turn, text: str, found: Answer) -> None:
    """Keep what a vote on this answer needs; only from a resident who agreed to keep data."""
    if turn.resident is None:
        return
    keys = [t.key for t in found.choices] or [found.target.key]
    votes.await_vote(turn, question_for_log(turn, text), keys)


def log_unanswered(turn: Turn, text: str) -> None:
    """Keep the question for content editors, without what identifies the person; only from a
    resident who agreed to keep data (nothing is kept from anyone else)."""
    if turn.resident is None:
        return
    logged = question_for_log(turn, text)
    if not logged:
        return   # emoji, punctuation or personal data only: nothing an editor could use
    turn.upsert(UnansweredQuestion, {"text": logged, "count": 1, "first_seen": turn.now, "last_seen": turn.now},
                ["text"], replace=("last_seen",), add=("count",))


def in_person_helpers(turn: Turn) -> str:
    return ", ".join(turn.pack.assistant.in_person_helpers)


def not_understood(turn: Turn, text: str) -> list[Reply]:
    _ = turn._
    log_unanswered(turn, text)
    return [menu_reply(turn, _("Sorry, I did not understand that question, and I do not want to guess.\n"
                               "Please pick a topic below, or ask a {ambassador} in your village, or: "
                               "{helpers}.").format(ambassador=turn.pack.assistant.ambassador_name,
                                                    helpers=in_person_helpers(turn)))]


def step_answer(turn: Turn, key: str) -> Reply:
    """A question best answered by a course step: where it is, and a button to open it."""
    _ = turn._
    course_id, step_id = key.split("/", 1)
    course = turn.pack.courses[course_id]
    n = course.step_number(step_id)
    data = encode(Action.STEP, course.id, n)
    return Reply(_("This is explained in «{course}», step {n}: {title}.").format(
                     course=course.title, n=n + 1, title=course.steps[n].title),
                 [[Button(_("📘 Open step {n}").format(n=n + 1), data)],
                  votes.vote_row(turn, data), [Button(_("🏠 Menu"), encode(Action.MENU))]])


def choice_button(turn: Turn, target: Target) -> Button | None:
    """A "did you mean" choice, labelled like the related questions, or with the step's title;
    its data is the usual "f:"/"s:" button's, so it opens the answer as those do."""
    data = votes.answer_data(turn, target)
    if data is None:
        return None
    if target.kind == "faq":
        return Button("❓ " + _short(turn.qa.faq[target.key].question), data)
    course_id, step_id = target.key.split("/", 1)
    title = next(s.title for s in turn.pack.courses[course_id].steps if s.id == step_id)
    return Button("📘 " + _short(title), data)


def clarify(turn: Turn, found: Answer) -> Reply:
    """Two answers too close to tell apart: ask which was meant rather than guess."""
    _ = turn._
    buttons = [choice_button(turn, t) for t in found.choices[:votes.MAX_CHOICES]]
    return Reply(_("Did you mean…?"),
                 [[b] for b in buttons if b] + [[Button(_("🏠 Menu"), encode(Action.MENU))]])


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
    remember_question(turn, text, found)
    if found.choices:
        return [clarify(turn, found)]
    if found.target.kind == "step":
        return [step_answer(turn, found.target.key)]
    related = [index.faq[t.key] for t in found.related]
    return [faq_reply(turn, index.faq[found.target.key], related)]


def show_faq(turn: Turn, args: list[str]) -> list[Reply]:
    """A related-question or "did you mean" button: show that entry (a choice becomes the
    answer the resident's vote is about)."""
    entry = turn.qa.faq.get(args[0] if args else "")
    if entry is None:
        return stale_or_unknown_button(turn)
    votes.take_choice(turn, entry.id)
    return [faq_reply(turn, entry, [])]


def vote(turn: Turn, args: list[str]) -> list[Reply]:
    """👍 or 👎 under an answer: thanks, and on 👎 the people who can help and the menu. Counted
    only from a resident who agreed to keep data, and only for the answer they were last given."""
    _ = turn._
    key = votes.answer_key(turn, args[1:])
    if not args or args[0] not in votes.VOTES or key is None:
        return stale_or_unknown_button(turn)
    votes.record_vote(turn, key, votes.VOTES[args[0]])
    if args[0] == "u":
        return [Reply(_("Thank you! I am glad that helped."))]
    return [menu_reply(turn, _("Thank you for telling me. Sorry that was not what you needed.\n"
                               "Please pick a topic below, or ask a {ambassador} in your village, or: "
                               "{helpers}.").format(ambassador=turn.pack.assistant.ambassador_name,
                                                    helpers=in_person_helpers(turn)))]
