"""/giadinh: the resident's Gia đình số — who is in it, and whether it counts yet."""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers.turn import Turn
from bot.households import HOUSEHOLD_PREFIX, create_household, join_household, members, new_invite_code
from bot.replies import Button, Reply

NEW, LINK = "new", "link"   # gd:new, gd:link


def show_household(turn: Turn, args=None, code: str | None = None, greeting: str | None = None) -> list[Reply]:
    _ = turn._
    edit = isinstance(args, list)
    menu = [Button(_("🏠 Menu"), encode(Action.MENU))]
    if turn.resident is None:
        return [Reply(_("A digital family needs me to keep a little data: send /start and tap \"Yes\" first."),
                      [menu], edit=edit)]
    if turn.resident.household_id is None:
        return [Reply(_("👨‍👩‍👧 A digital family learns together: once one member has finished the core lessons "
                        "({courses}), the family counts as a digital family in the commune's report.").format(
                            courses=_core_titles(turn)),
                      [[Button(_("➕ Create my digital family"), encode(Action.HOUSEHOLD, NEW))], menu], edit=edit)]
    core = list(turn.knowledge.plan.core_courses)
    people = members(turn.session, turn.resident.household_id, core)
    covered = any(set(p.core_done) >= set(core) for p in people)
    lines = [greeting] if greeting else []
    lines.append(_("👨‍👩‍👧 Your digital family: {n} members.").format(n=len(people)))
    someone = _("a family member")
    for person in people:
        lines.append(f"• {person.first_name or someone}: {len(set(person.core_done))}/{len(core)}")
    lines.append(_("✅ Your family counts as a digital family.") if covered else
                 _("Not yet: one member needs to finish {courses}.").format(courses=_core_titles(turn)))
    rows = [[Button(_("🔗 Invite a family member"), encode(Action.HOUSEHOLD, LINK))], menu]
    replies = [Reply("\n".join(lines), rows, edit=edit)]
    if code:
        replies.append(_invite(turn, code))
    return replies


def _core_titles(turn: Turn) -> str:
    courses = turn.pack.courses
    return ", ".join(courses[c].button for c in turn.knowledge.plan.core_courses if c in courses)


def _invite(turn: Turn, code: str) -> Reply:
    _ = turn._
    text = _("👨‍👩‍👧 Join my digital family on the {movement} assistant: we learn digital skills together.").format(
        movement=turn.pack.assistant.movement_name)
    return Reply(text, [[turn.share_button(_("➕ Join"), f"{HOUSEHOLD_PREFIX}{code}", code)]])


def household_button(turn: Turn, args: list[str]) -> list[Reply]:
    """gd:new creates the family; gd:link makes a fresh invite link to forward."""
    if turn.resident is None:
        return show_household(turn, args)
    action = args[0] if args else ""
    if action == NEW and turn.resident.household_id is None:
        code = create_household(turn.session, turn.resident)
        return show_household(turn, args, code)
    if action == LINK:
        code = new_invite_code(turn.session, turn.resident)
        return show_household(turn, args, code)
    return show_household(turn, args)


def join_from_link(turn: Turn, code: str) -> list[Reply]:
    _ = turn._
    if join_household(turn.session, turn.resident, code):
        turn.session.flush()
        return show_household(turn, greeting=_("🎉 You joined the digital family."))
    return [Reply(_("This family link no longer works. Ask for a new one."),
                  [[Button(_("🏠 Menu"), encode(Action.MENU))]])]
