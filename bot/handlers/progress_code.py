"""Mã tiến độ: /matiendo, or the button in /caidat, shows a code; sent on another device (typed, or
as /matiendo <code>), it moves the resident's progress there after a confirm (bot/progress_codes.py).

Buttons: mv:new makes a code; mv:y:<code id> and mv:n:<code id> answer the confirm.
"""
from __future__ import annotations

import math

from sqlalchemy import update

from bot import progress_codes, share_codes
from bot.button_data import NO, YES, Action, encode
from bot.handlers import start   # the module: start imports this one too (typed_code)
from bot.handlers.account import show_progress
from bot.handlers.fallback import stale_or_unknown_button
from bot.handlers.menu import menu_reply
from bot.handlers.turn import Turn, small_number
from bot.models import ProgressCode
from bot.progress_codes import LIFETIME, display, find, make_code, move, read_code, record_of, spend
from bot.replies import Button, Reply

NEW = "new"   # mv:new


def command(turn: Turn, args: str = "") -> list[Reply]:
    """/matiendo makes a code; /matiendo <code> sends one from the other device."""
    if not args.strip():
        return offer_code(turn)
    code = read_code(args, turn.pack.code_words)
    if code is None:
        return [menu_reply(turn, turn._("A progress code has 9 digits, like {example}. Please check it on the "
                                        "other device and send it again.").format(example=display("482109375")))]
    return redeem(turn, code)


def typed(turn: Turn, text: str) -> list[Reply]:
    """A message that is a progress code; [] if it is not one."""
    code = read_code(text, turn.pack.code_words)
    return redeem(turn, code) if code else []


def button(turn: Turn, args: list[str]) -> list[Reply]:
    if args == [NEW]:
        return offer_code(turn, edit=True)
    code_id = small_number(args[1]) if len(args) == 2 else None
    if code_id is not None and args[0] == YES:
        return confirm(turn, code_id)
    if code_id is not None and args[0] == NO:
        return decline(turn, code_id)
    return stale_or_unknown_button(turn)


# ---- on the device the progress leaves -----------------------------------------------------------

def offer_code(turn: Turn, edit: bool = False) -> list[Reply]:
    _ = turn._
    if turn.resident is None:
        return [Reply(_("I keep nothing about you here, so there is no progress to move from this chat. "
                        "If another device gave you a progress code: agree below first, then send the code."),
                      edit=edit),
                start.consent_question(turn)]
    code = display(make_code(turn.session, turn.resident, turn.now))
    turn.count("progress_code")
    text = _("📲 Your progress code: {code}\n\n"
             "It works once, for 15 minutes (until {time}).\n\n"
             "On the other phone, or in Zalo, Telegram or another browser:\n"
             "1. Open the assistant.\n"
             "2. Tap «✅ Yes, I agree».\n"
             "3. Send the code {code}.\n\n"
             "Your progress then moves there, and this chat starts over. Give the code to nobody else.").format(
                 code=code, time=_clock(turn, turn.now + LIFETIME))
    return [Reply(text, [[Button(_("🏠 Menu"), encode(Action.MENU))]], edit=edit)]


# ---- on the device the progress comes to ----------------------------------------------------------

def redeem(turn: Turn, code: str) -> list[Reply]:
    _ = turn._
    if turn.resident is None:   # nothing is looked up, nothing is kept
        return [Reply(_("To move your progress here, I first need your agreement to keep it. "
                        "Tap «✅ Yes, I agree» below, then send the code again.")),
                start.consent_question(turn)]
    me = turn.resident.id
    wait = progress_codes.wrong_tries.wait(me, turn.now)
    if wait is not None:
        return [_locked(turn, wait)]
    budget = share_codes.wrong_codes   # read at each call: tests give each their own
    if budget.spent():
        return [menu_reply(turn, _("Many wrong codes have been sent lately, so I cannot check codes right now. "
                                   "Please try again in an hour."))]
    row = find(turn.session, code)
    if row is None:
        budget.count()
        if progress_codes.wrong_tries.count(me, turn.now):
            return [_locked(turn, progress_codes.LOCK)]
        return [menu_reply(turn, _("That code does not work. Check the 9 digits on the other device and send "
                                   "them again."))]
    if row.used_at is not None:
        if row.claimed_by == me:
            return [menu_reply(turn, _("This progress has already moved here. 👍"))]
        return [menu_reply(turn, _("This code has been used already. On the other device, send /matiendo "
                                   "to get a new one."))]
    if row.expires_at <= turn.now:
        return [menu_reply(turn, _("This code is more than 15 minutes old, so it no longer works. On the other "
                                   "device, send /matiendo to get a new one."))]
    if row.resident_id == me:
        return [menu_reply(turn, _("This is the code of this chat. Send it on the other device: the one where "
                                   "you want your progress to go."))]
    row.claimed_by = me
    return [_confirm_question(turn, row)]


def _confirm_question(turn: Turn, row: ProgressCode) -> Reply:
    _ = turn._
    record = record_of(turn.session, row.resident_id)
    lines = [_("📲 Move this progress here?")]
    for course in turn.pack.ordered_courses:
        if course.id in record.completed:
            lines.append(_("✅ {course}: completed on {date}").format(
                course=course.button, date=turn.format_date(record.completed[course.id])))
        elif course.id in record.studying:
            step = min(record.studying[course.id], len(course.steps) - 1)
            lines.append(_("▶️ {course}: studying, step {n}/{total}").format(
                course=course.button, n=step + 1, total=len(course.steps)))
    if record.certified:
        lines.append(_("🎖 Certified on VNeID"))
    if record.ambassador:
        lines.append(_("🤝 Digital ambassador"))
    if len(lines) == 1:
        lines.append(_("No lessons started yet."))
    lines += ["", _("What you have here stays too. After the move, the other device starts over.")]
    return Reply("\n".join(lines), [[Button(_("✅ Yes, move it here"), encode(Action.MOVE, YES, row.id)),
                                     Button(_("No"), encode(Action.MOVE, NO, row.id))]])


def confirm(turn: Turn, code_id: int) -> list[Reply]:
    _ = turn._
    if turn.resident is None:
        return stale_or_unknown_button(turn)
    source = spend(turn.session, code_id, turn.resident, turn.now)
    if source is None:
        row = turn.session.get(ProgressCode, code_id)
        if row is not None and row.used_at is not None and row.claimed_by == turn.resident.id:
            return [menu_reply(turn, _("This progress has already moved here. 👍"), edit=True)]
        return [menu_reply(turn, _("This code no longer works. On the other device, send /matiendo to get a "
                                   "new one."), edit=True)]
    move(turn.session, source, turn.resident)
    turn.count("progress_moved")
    return [Reply(_("✅ Done! Your progress is here now. The other device starts over: it keeps nothing of yours."),
                  edit=True),
            *show_progress(turn)]


def decline(turn: Turn, code_id: int) -> list[Reply]:
    """Nothing moves. The claim is let go, and the code works until it expires: a "No" is often a
    slip of the finger, and whoever typed the code could as well have said yes."""
    _ = turn._
    if turn.resident is not None:
        turn.session.execute(update(ProgressCode).where(
            ProgressCode.id == code_id, ProgressCode.claimed_by == turn.resident.id, ProgressCode.used_at.is_(None))
            .values(claimed_by=None))
    return [menu_reply(turn, _("OK, nothing was moved."), edit=True)]


def _locked(turn: Turn, wait) -> Reply:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return menu_reply(turn, turn._("You have sent {tries} wrong codes. Please wait {minutes} minutes, then try "
                                   "again. Meanwhile, check the code on the other device.").format(
                                       tries=progress_codes.WRONG_TRIES, minutes=minutes))


def _clock(turn: Turn, moment) -> str:
    return moment.astimezone(turn.tz).strftime("%H:%M")
