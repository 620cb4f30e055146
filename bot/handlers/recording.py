"""/ghiam <course> <step> [language]: an official records a lesson step in their own voice.

The command says which step; the next voice note the official sends becomes that step's audio,
heard instead of the synthesized voice (in a Thái or H'Mông folder, the only audio there is).
Anyone else who sends a voice note gets the usual "I cannot listen to voice messages".
"""
from __future__ import annotations

from bot.button_data import Action, encode
from bot.handlers import listen
from bot.handlers.fallback import unsupported
from bot.handlers.turn import Turn, small_number
from bot.media import recordings
from bot.media.inventory import recordable
from bot.media.keys import step_key
from bot.replies import Button, Reply


def command(turn: Turn, args: str = "") -> list[Reply]:
    _ = turn._
    if turn.resident is None or not turn.resident.official:
        return [Reply(_("Only the commune's and villages' officials can record lessons. To hear a lesson, "
                        "tap «🔊 Listen» under any step."))]
    words = args.split()
    course = turn.pack.courses.get(words[0]) if words else None
    index = _step_index(course, words[1]) if course is not None and len(words) > 1 else None
    language = words[2].lower() if len(words) > 2 else turn.language
    if course is None or index is None or len(words) > 3 or language not in recordable(turn.knowledge):
        turn.resident.recording_for = None
        courses = ", ".join(turn.pack.courses)
        return [Reply(_("To record a step, send /ghiam <lesson> <step number> [language], for example "
                        "/ghiam vneid 2. Lessons: {courses}. Languages: {languages}.").format(
                        courses=courses, languages=", ".join(recordable(turn.knowledge))))]
    step = course.steps[index]
    turn.resident.recording_for = f"{language} {step_key(course.id, step.id)}"
    return [Reply(_("🎙 Now send one voice message reading «{title}» ({course}, step {n}; language: {language}). "
                    "It will replace the computer voice for this step.").format(
                    title=step.title, course=course.button, n=index + 1, language=language_name(turn, language)))]


def language_name(turn: Turn, code: str) -> str:
    return next((n.name for n in turn.knowledge.language_names if n.code == code), code)


def _step_index(course, word: str) -> int | None:
    number = small_number(word)
    if number is not None:
        return number - 1 if 1 <= number <= len(course.steps) else None
    return course.step_number(word)


def awaiting(resident) -> bool:
    """An official whose /ghiam waits for its voice note."""
    return resident is not None and resident.official and bool(resident.recording_for)


def receive(turn: Turn, data: bytes, too_large: bool = False) -> list[Reply]:
    """The voice note after /ghiam: checked, kept, and offered to be heard back."""
    _ = turn._
    if not awaiting(turn.resident):
        return unsupported(turn, "voice")
    language, key = turn.resident.recording_for.split(" ", 1)
    problem, seconds = (recordings.TOO_BIG, 0.0) if too_large else recordings.check(data)
    if problem is not None:
        return [Reply(_("I could not use that recording: {problem}. Please send it again.").format(
            problem=_(problem)))]
    recordings.store(turn.session, language, key, data, seconds, "bot", turn.now)
    turn.resident.recording_for = None
    course_id, _slash, step_id = key.partition("/")
    course = turn.pack.courses.get(course_id)
    index = course.step_number(step_id) if course is not None else None
    rows = listen.listen_row(turn, listen.STEP, course_id, index) if index is not None else []
    return [Reply(_("✅ Saved. Residents who listen to this step ({language}) now hear your voice.").format(
        language=language_name(turn, language)), [*rows, [Button(_("🏠 Menu"), encode(Action.MENU))]])]
