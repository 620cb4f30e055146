"""Button data: what a pressed button names, "<action>:<arg>:<arg>…", in at most 64 bytes.

Every button is made with `encode` and read with `decode`. The strings stay exactly as they
were when they were f-strings: residents' chats keep old messages with their buttons, and a
tap on one must still land. So an action's letters never change, and a new argument goes at
the end (its handler reads it as absent on an old button).

Buttons name their target ("s:vneid:3" is step 4 of VNeID, not "next"), so pressing one twice,
or long after, is harmless.
"""
from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from bot.replies import CALLBACK_DATA_MAX

SEPARATOR = ":"
YES, NO = "y", "n"   # the argument of a yes/no question's buttons (consent, delete)


class Action(StrEnum):
    CONSENT = "c"            # c:y | c:n, then the deep-link payload the consent carries (start.py)
    VILLAGE_PAGE = "pv"      # pv:<page>
    VILLAGE = "v"            # v:<village id>
    GROUP = "g"              # g:<group id>
    AGE = "a"                # a:<age band id>
    PROFILE_SKIP = "ps"      # ps:v | ps:g | ps:a, the question skipped
    MENU = "m"
    OPEN_COURSE = "o"        # o:<course>: resume it, or start it
    STEP = "s"               # s:<course>:<step index>
    QUIZ = "q"               # q:<course>
    QUIZ_ANSWER = "qa"       # qa:<course>:<attempt>:<question>:<choice>:<score so far>
    PROGRESS = "t"
    HELP = "h"
    DELETE = "x"             # x:y | x:n
    LANGUAGE = "l"           # l:<language code>
    FAQ = "f"                # f:<faq id>
    VOTE = "vo"              # vo:u | vo:d, then the answer's own button data (votes.py)
    EVENT = "ev"             # ev:<event id>:1 | ev:<event id>:0
    CERTIFIED = "cert"       # cert:1 | cert:0
    REMINDERS = "rm"         # rm:1 | rm:0
    SHARE = "sh"             # sh, then sh:<course>
    HANDS_ON = "hs"          # hs, hs:<course>, then hs:<course>:<people>
    HOUSEHOLD = "gd"         # gd:new | gd:link
    NOTIFY = "nt"            # nt:1 | nt:0, web chat notifications (the page asks the browser first)
    MOVE = "mv"              # mv:new, a progress code to move to another device; mv:y:<id> | mv:n:<id>
    LISTEN = "ls"            # ls:s:<course>:<step> | ls:q:<course>:<question> | ls:f:<faq id>: hear it
    LISTEN_MODE = "lm"       # lm:1 | lm:0, "Tôi muốn nghe": every step comes with its audio


# Actions whose last argument is another button's whole data, colons and all: a vote names the
# answer by the button that shows it, since 64 bytes cannot hold the question.
NESTS_DATA = frozenset({Action.VOTE})


class Pressed(NamedTuple):
    action: Action | None    # None: not a button we make (garbage, or from a removed feature)
    args: list[str]


def encode(action: Action, *args: str | int) -> str:
    """The data for a button; ValueError if an argument would be read back wrong or it is too long."""
    parts = [str(a) for a in args]
    for i, part in enumerate(parts):
        if SEPARATOR in part and not (action in NESTS_DATA and i == len(parts) - 1):
            raise ValueError(f"{action.name} argument {i} holds {SEPARATOR!r}")
    data = SEPARATOR.join([action.value, *parts])
    if len(data.encode()) > CALLBACK_DATA_MAX:
        raise ValueError(f"{action.name} button data is over {CALLBACK_DATA_MAX} bytes")
    return data


def decode(data: str) -> Pressed:
    """What a press names. Never raises: the web chat posts whatever a client sends."""
    if not isinstance(data, str) or len(data.encode(errors="replace")) > CALLBACK_DATA_MAX:
        return Pressed(None, [])
    prefix, *args = data.split(SEPARATOR)
    try:
        return Pressed(Action(prefix), args)
    except ValueError:
        return Pressed(None, args)


def is_destructive(data: str) -> bool:
    """A press that cannot be undone (the confirmed delete): pages show it apart."""
    return decode(data) == Pressed(Action.DELETE, [YES])
