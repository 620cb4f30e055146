""""🔊 Nghe": a lesson step, a quiz question or an answer read aloud; "Tôi muốn nghe", every step
with its audio unasked; and /ghiam, an official's own recording of a step."""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers.turn import Turn, small_number
from bot.media.keys import faq_speech, question_speech, step_speech
from bot.replies import Button, Reply, Speech

STEP, QUESTION, FAQ = "s", "q", "f"


def listen_row(turn: Turn, *args: str | int) -> list[list[Button]]:
    """The "🔊 Nghe" button for a part (ls:<kind>:...), where this chat can play sound."""
    if not turn.hears:
        return []
    return [[Button(turn._("🔊 Listen"), encode(Action.LISTEN, *args))]]


def part_speech(turn: Turn, args: list[str]) -> Speech | None:
    """What a listen button names, or None for one of a part that is gone (content was edited)."""
    kind, rest = (args[0], args[1:]) if args else ("", [])
    if kind == FAQ and len(rest) == 1:
        entry = turn.qa.faq.get(rest[0])
        return faq_speech(turn.language, entry) if entry is not None else None
    course = turn.pack.courses.get(rest[0]) if len(rest) == 2 else None
    number = small_number(rest[1]) if len(rest) == 2 else None
    if course is None or number is None:
        return None
    if kind == STEP and number < len(course.steps):
        return step_speech(turn.language, course, number)
    if kind == QUESTION and number < len(course.quiz.questions):
        return question_speech(turn.language, course, number)
    return None


def play(turn: Turn, args: list[str]) -> list[Reply]:
    """ls:...: the part's audio as a voice note (Telegram, Zalo) or a player (the web chat)."""
    speech = part_speech(turn, args)
    if speech is None:
        return [Reply(turn._("This lesson has been updated, so that recording is gone. Please open the "
                             "lesson again from the menu."),
                      [[Button(turn._("🏠 Menu"), encode(Action.MENU))]])]
    if not turn.hears:
        return [Reply(turn._("I cannot send sound in this chat. On Zalo, Telegram or the web chat, "
                             "tap «🔊 Listen» to hear the lesson."))]
    turn.count("listen")
    return [Reply("", audio=speech)]


def set_mode(turn: Turn, args: list[str]) -> list[Reply]:
    """lm:1 / lm:0 from /caidat or the end of the profile."""
    from bot.handlers.settings import show_settings   # settings shows this button: no import cycle at load
    if turn.resident is not None:
        turn.resident.listen = args[:1] == ["1"] and turn.hears
    return show_settings(turn, args)


def mode_row(turn: Turn) -> list[list[Button]]:
    """/caidat's switch for "Tôi muốn nghe", where this chat can play sound."""
    if turn.resident is None or not turn.hears:
        return []
    if turn.resident.listen:
        return [[Button(turn._("🔇 Stop sending the audio with each step"), encode(Action.LISTEN_MODE, 0))]]
    return [[Button(turn._("🔊 I want to listen"), encode(Action.LISTEN_MODE, 1))]]


def mode_note(turn: Turn) -> str | None:
    if turn.resident is None or not turn.hears:
        return None
    if turn.resident.listen:
        return turn._("🔊 Each lesson step comes with its audio: you can listen instead of reading.")
    return None
