"""The optional profile: village, group and age band. Every question can be skipped.

Ethnicity is sensitive data and is never asked.
"""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers import listen
from bot.handlers.menu import menu_reply
from bot.models import Village
from bot.reference import villages as all_villages
from bot.handlers.turn import Turn, small_number
from bot.replies import Button, Reply

VILLAGES_PER_PAGE = 8


def _skip(turn: Turn, question: str) -> Button:
    return Button(turn._("Skip ⏭"), encode(Action.PROFILE_SKIP, question))


def ask_village(turn: Turn, page: int = 0, edit: bool = False) -> Reply:
    _ = turn._
    villages = all_villages(turn.session)
    pages = max(1, -(-len(villages) // VILLAGES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = villages[page * VILLAGES_PER_PAGE:(page + 1) * VILLAGES_PER_PAGE]
    rows = [[Button(v.name, encode(Action.VILLAGE, v.id)) for v in shown[i:i + 2]] for i in range(0, len(shown), 2)]
    nav = []
    if page > 0:
        nav.append(Button(_("⬅️ Back"), encode(Action.VILLAGE_PAGE, page - 1)))
    if page < pages - 1:
        nav.append(Button(_("More ➡️"), encode(Action.VILLAGE_PAGE, page + 1)))
    if nav:
        rows.append(nav)
    rows.append([_skip(turn, "v")])
    return Reply(_("Which village do you live in? You can skip this."), rows, edit=edit)


def confirm_village(turn: Turn, village_id: str) -> Reply | None:
    """A poster's link names the village it hangs in: offer it first, since a visitor may live
    elsewhere; None if the village is not (or no longer) on the list."""
    _ = turn._
    village = turn.session.get(Village, village_id)
    if village is None:
        return None
    return Reply(_("Do you live in {village}?").format(village=village.name),
                 [[Button(_("✅ Yes, {village}").format(village=village.name), encode(Action.VILLAGE, village.id))],
                  [Button(_("Another village"), encode(Action.VILLAGE_PAGE, 0))], [_skip(turn, "v")]])


def ask_group(turn: Turn) -> Reply:
    groups = turn.pack.profile.groups
    rows = [[Button(g.label, encode(Action.GROUP, g.id))] for g in groups]
    rows.append([_skip(turn, "g")])
    return Reply(turn._("Which group are you in? You can skip this."), rows, edit=True)


def ask_age(turn: Turn) -> Reply:
    bands = turn.pack.profile.age_bands
    rows = [[Button(b.label, encode(Action.AGE, b.id)) for b in bands[i:i + 2]] for i in range(0, len(bands), 2)]
    rows.append([_skip(turn, "a")])
    return Reply(turn._("How old are you? You can skip this."), rows, edit=True)


def _done(turn: Turn) -> list[Reply]:
    reply = menu_reply(turn, turn._("All set! 🎉 What would you like to learn first?"), edit=True)
    offer = listen.mode_row(turn) if not (turn.resident and turn.resident.listen) else []
    if offer:
        # For those who read with difficulty: the lessons can be heard, and this is where to say so.
        reply.text += "\n\n" + turn._("If reading is hard, tap «🔊 I want to listen»: every step will come "
                                        "with its audio.")
        reply.buttons = offer + reply.buttons
    return [reply]


def _needs_consent(turn: Turn) -> list[Reply] | None:
    if turn.resident is None:
        return [menu_reply(turn, turn._("You chose not to save data, so I keep no profile. "
                                        "What would you like to learn?"), edit=True)]
    return None


def start_profile(turn: Turn, args: str = "") -> list[Reply]:
    return _needs_consent(turn) or [ask_village(turn)]


def village_page(turn: Turn, args: list[str]) -> list[Reply]:
    page = (small_number(args[0]) if args else None) or 0
    return _needs_consent(turn) or [ask_village(turn, page, edit=True)]


def choose_village(turn: Turn, args: list[str]) -> list[Reply]:
    if (refused := _needs_consent(turn)) is not None:
        return refused
    village = turn.session.get(Village, args[0]) if args else None
    if village is None:
        return [ask_village(turn, edit=True)]
    turn.resident.village_id = village.id
    return [ask_group(turn)]


def choose_group(turn: Turn, args: list[str]) -> list[Reply]:
    if (refused := _needs_consent(turn)) is not None:
        return refused
    if args and any(g.id == args[0] for g in turn.pack.profile.groups):
        turn.resident.group_id = args[0]
        return [ask_age(turn)]
    return [ask_group(turn)]


def choose_age(turn: Turn, args: list[str]) -> list[Reply]:
    if (refused := _needs_consent(turn)) is not None:
        return refused
    if args and any(b.id == args[0] for b in turn.pack.profile.age_bands):
        turn.resident.age_band = args[0]
        return _done(turn)
    return [ask_age(turn)]


def skip_question(turn: Turn, args: list[str]) -> list[Reply]:
    if (refused := _needs_consent(turn)) is not None:
        return refused
    following = {"v": ask_group, "g": ask_age}
    ask_next = following.get(args[0] if args else "")
    return [ask_next(turn)] if ask_next else _done(turn)
