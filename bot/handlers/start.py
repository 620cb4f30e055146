"""/start, the greeting and the consent question (the 2025 personal-data law: explicit, provable),
and the deep links and short codes that lead here."""
from __future__ import annotations

from bot.button_data import NO, YES, Action, encode
from bot.handlers.account import delete_everything
from bot.handlers.fallback import stale_or_unknown_button
from bot.handlers.menu import menu_reply
from bot.ambassadors import GUIDE_PREFIX, INVITE_PREFIX, PAYLOAD, GuideLink, credit
from bot.handlers import ambassador, household, progress_code
from bot.households import HOUSEHOLD_PREFIX
from bot.handlers.profile import ask_village, confirm_village
from bot.handlers.turn import Turn
from bot.models import Resident
from bot.reference import VILLAGE_PREFIX
from bot.replies import Button, Reply
from bot.share_codes import payload_for

# Bump when the consent text changes materially, so we know what each person agreed to.
CONSENT_VERSION = "2026-11"
CARRIED_MAX = 58   # the longest payload the consent buttons carry, within Telegram's 64 bytes


def consent_question(turn: Turn, payload: str = "") -> Reply:
    """The consent buttons carry a deep-link payload, so a share link still counts after "Yes"."""
    _ = turn._
    carried = [payload] if payload and len(payload) <= CARRIED_MAX else []
    return Reply(
        _("To remember how far you got, I need to keep: your first name as the chat app shows it, "
          "the lessons you studied and your quiz scores, and, if you like, your village, group "
          "and age band.\n"
          "I never ask your ethnicity or your ID card number.\n"
          "You can delete everything at any time with /xoadulieu.\n\n"
          "Do you agree that I keep your learning progress?"),
        [[Button(_("✅ Yes, I agree"), encode(Action.CONSENT, YES, *carried)),
          Button(_("No, thanks"), encode(Action.CONSENT, NO, *carried))]],
    )


def greet(turn: Turn, args: str = "") -> list[Reply]:
    """/start, or /start <payload> from a deep link (an invite code or a shared lesson)."""
    _ = turn._
    payload = args.strip()
    if payload and turn.resident is not None:
        replies = follow_link(turn, payload)
        if replies:
            return replies
    if turn.resident:
        name = turn.resident.first_name
        welcome = _("Welcome back, {name}! 👋").format(name=name) if name else _("Welcome back! 👋")
        return [menu_reply(turn, welcome + "\n" + _("What would you like to learn? Tap a lesson below."))]
    return [
        Reply(_("Hello! 👋 I am the {movement} assistant of {commune}.\n"
                "I teach digital skills step by step: VNeID, online public services, "
                "digital payments, staying safe online, and more. It is free.").format(
                    movement=turn.pack.assistant.movement_name, commune=turn.pack.assistant.commune_name)),
        consent_question(turn, payload if PAYLOAD.match(payload) else ""),
    ]


def typed_code(turn: Turn, text: str) -> list[Reply]:
    """A share code sent as a message (from Zalo, or read out over the phone) does what its link
    does; [] if the text is no code that exists, so that it is answered as a question.
    A progress code (nine digits, bot/progress_codes.py) is never read as a share code, nor one as
    it: no share code has nine characters."""
    moving = progress_code.typed(turn, text)
    if moving:
        return moving
    payload = payload_for(turn.session, text, turn.pack.code_words)
    return greet(turn, payload) if payload else []


def follow_link(turn: Turn, payload: str) -> list[Reply]:
    """What a deep link asks for; [] if it is not one we make."""
    if payload.startswith(HOUSEHOLD_PREFIX):
        if turn.resident is None:
            return []
        return household.join_from_link(turn, payload[len(HOUSEHOLD_PREFIX):])
    if payload.startswith(INVITE_PREFIX):
        if turn.resident is None:
            return []
        return ambassador.become_ambassador(turn, payload[len(INVITE_PREFIX):])
    if payload.startswith(VILLAGE_PREFIX):
        if turn.resident is None or turn.resident.village_id is not None:
            return []
        question = confirm_village(turn, payload[len(VILLAGE_PREFIX):])
        return [question] if question else []
    link = GuideLink.parse(payload)
    if link is None:
        return []
    if turn.resident is not None:
        credit(turn.session, turn.resident, link, turn.now)
    return ambassador.open_shared_guide(turn, link)


def answer_consent(turn: Turn, args: list[str]) -> list[Reply]:
    _ = turn._
    payload = ":".join(args[1:])
    if args[:1] == [YES]:
        if turn.resident is None:
            turn.resident = Resident(
                platform=turn.contact.platform,
                external_id=turn.contact.external_id,
                first_name=(turn.contact.first_name or "")[:64] or None,
                consent_at=turn.now,
                consent_version=CONSENT_VERSION,
                created_at=turn.now,
                last_seen_at=turn.now,
            )
            turn.session.add(turn.resident)
            turn.session.flush()
        thanks = Reply(_("Thank you! I will keep your learning progress. "
                         "You can delete it any time with /xoadulieu."), edit=True)
        followed = follow_link(turn, payload) if payload else []
        return [thanks, *followed] if followed else [thanks, ask_village(turn)]
    if args[:1] != [NO]:
        return stale_or_unknown_button(turn)
    turn.count("consent_no")
    if turn.resident is not None:
        # Saying no after yes withdraws consent: treat it as a request to delete.
        delete_everything(turn)
    no_thanks = _("No problem. You can still read every lesson, and I will not keep anything about you.")
    followed = follow_link(turn, payload) if payload.startswith(GUIDE_PREFIX) else []  # the lesson, no credit
    if followed:
        return [Reply(no_thanks, edit=True), *followed]
    return [menu_reply(turn, no_thanks + "\n" + _("What would you like to learn?"), edit=True)]
