"""/daisuso: becoming a Đại sứ số, sharing lessons, and seeing the neighbours one helped."""
from __future__ import annotations

from bot.ambassadors import GuideLink, helped_by, redeem
from bot.button_data import Action, encode
from bot.handlers.course import record_step, step_reply
from bot.handlers.turn import Turn, small_number
from bot.models import HelpSession
from bot.replies import Button, Reply
from bot.share_codes import code_for, read_code

PEOPLE_CHOICES = (1, 2, 3, 5, 10, 15, 20, 30)


def _menu_button(turn: Turn) -> list[Button]:
    return [Button(turn._("🏠 Menu"), encode(Action.MENU))]


def ambassador_command(turn: Turn, args: str = "") -> list[Reply]:
    """/daisuso <code> becomes an ambassador; /daisuso alone shows the ambassador's page."""
    code = args.strip()
    if code:
        return become_ambassador(turn, code)
    return dashboard(turn)


def become_ambassador(turn: Turn, code: str) -> list[Reply]:
    _ = turn._
    name = turn.pack.assistant.ambassador_name
    if turn.resident is None:
        return [Reply(_("To become a {ambassador}, I need to keep a little data: send /start, tap \"Yes\", "
                        "then send the code again.").format(ambassador=name), [_menu_button(turn)])]
    result = redeem(turn.session, turn.resident, code, turn.now)
    typed = read_code(code)
    if result == "unknown" and typed not in (None, code):
        # Typed as it was read out ("abcde-fghjk"); tried second, since an old code (before
        # short codes) is case-sensitive and may hold a dash.
        result = redeem(turn.session, turn.resident, typed, turn.now)
    if result in ("ok", "already"):
        return dashboard(turn, _("🎉 Welcome, {ambassador}! Thank you for helping your neighbours.").format(
            ambassador=name) if result == "ok" else None)
    messages = {
        "unknown": _("This code is not right. Check it with the person who gave it to you."),
        "expired": _("This code has expired. Ask the commune or your village head for a new one."),
        "used": _("This code has already been used. Ask the commune or your village head for a new one."),
    }
    return [Reply(messages[result], [_menu_button(turn)])]


def dashboard(turn: Turn, greeting: str | None = None, edit: bool = False) -> list[Reply]:
    _ = turn._
    name = turn.pack.assistant.ambassador_name
    if turn.resident is None or turn.resident.ambassador_since is None:
        return [Reply(_("A {ambassador} helps neighbours learn digital skills. To become one, ask the commune "
                        "or your village head for a code, then send /daisuso followed by the code.").format(
                            ambassador=name), [_menu_button(turn)], edit=edit)]
    helped = helped_by(turn.session, turn.resident.id)
    titles = {c.id: c.button for c in turn.pack.ordered_courses}
    lines = [greeting] if greeting else []
    lines.append(_("🤝 You have helped {n} neighbours through your links.").format(n=len(helped)))
    someone, nothing = _("a neighbour"), _("no lesson completed yet")
    for person in helped[:20]:
        done = ", ".join(titles.get(c, c) for c in person.completed) or nothing
        lines.append(f"• {person.first_name or someone}: {done}")
    rows = [[Button(_("📤 Share a lesson"), encode(Action.SHARE))],
            [Button(_("📝 Log a hands-on session"), encode(Action.HANDS_ON))], _menu_button(turn)]
    return [Reply("\n".join(lines), rows, edit=edit)]


def _is_ambassador(turn: Turn) -> bool:
    return turn.resident is not None and turn.resident.ambassador_since is not None


def _pick_course(turn: Turn, action: Action, question: str) -> list[Reply]:
    rows = [[Button(c.button, encode(action, c.id))] for c in turn.pack.ordered_courses] + [_menu_button(turn)]
    return [Reply(question, rows, edit=True)]


def share(turn: Turn, args: list[str]) -> list[Reply]:
    """sh: pick a lesson; sh:<course>: the card to forward, with a link or code that credits the ambassador."""
    _ = turn._
    if not _is_ambassador(turn):
        return dashboard(turn, edit=True)
    course = turn.pack.courses.get(args[0]) if args else None
    if course is None:
        return _pick_course(turn, Action.SHARE, _("Which lesson do you want to share?"))
    link = GuideLink(course.id, 0, turn.resident.id)
    button = turn.share_button(_("▶️ Open the lesson"), link.payload, code_for(turn.session, link.payload, turn.now))
    if turn.shares_web_links:
        card = _("📚 Free lesson «{course}» from the {movement} assistant of {commune}. Open the link to "
                 "start: it takes a few minutes.")
        how = _("☝️ Tap «Send to family and neighbours» above, then choose Zalo or Messages. When they open "
                "the link, they count as people you helped.")
    elif button.url:
        card = _("📚 Free lesson «{course}» from the {movement} assistant of {commune}. Tap the button below "
                 "to start: it takes a few minutes.")
        how = _("☝️ Forward the message above to your neighbours or family. When they open it, "
                "they count as people you helped.")
    else:   # the channel shows the code where the button would be
        card = _("📚 Free lesson «{course}» from the {movement} assistant of {commune}. Send the code below "
                 "to the assistant to start: it takes a few minutes.")
        how = _("☝️ Forward the message above to your neighbours or family, or read them the code. When they "
                "send the code to the assistant, they count as people you helped.")
    card = card.format(course=course.button, movement=turn.pack.assistant.movement_name,
                       commune=turn.pack.assistant.commune_name)
    return [Reply(card, [[button]]), Reply(how, [_menu_button(turn)])]


def log_session(turn: Turn, args: list[str]) -> list[Reply]:
    """hs → topic → hs:<course> → how many people → hs:<course>:<n> records the session."""
    _ = turn._
    if not _is_ambassador(turn):
        return dashboard(turn, edit=True)
    course = turn.pack.courses.get(args[0]) if args else None
    if course is None:
        return _pick_course(turn, Action.HANDS_ON, _("What did you help with, hands-on?"))
    people = small_number(args[1], limit=1000) if len(args) > 1 else None
    if not people:
        rows = [[Button(str(n), encode(Action.HANDS_ON, course.id, n)) for n in PEOPLE_CHOICES[i:i + 4]]
                for i in (0, 4)]
        return [Reply(_("How many people did you help with «{course}»?").format(course=course.button), rows,
                      edit=True)]
    turn.session.add(HelpSession(ambassador_id=turn.resident.id, course_id=course.id, people=people,
                                 held_at=turn.now))
    return dashboard(turn, _("✅ Recorded: {n} people, «{course}». Thank you!").format(n=people, course=course.button),
                     edit=True)


def open_shared_guide(turn: Turn, link: GuideLink) -> list[Reply]:
    """A neighbour opened a share link: the lesson at its step."""
    course = turn.pack.courses.get(link.course_id)
    if course is None:
        return []
    index = min(link.step, len(course.steps) - 1)
    record_step(turn, course, index)
    return [step_reply(turn, course, index, edit=False)]
