"""Short codes for share links: on channels with no link that opens the assistant (Zalo), and over
the phone, a resident sends the code instead, and it does what the link does (start.typed_code).

Its length tells what a code stands for:
   6  a shared lesson, g_<course>_<step>_<ambassador>: no secret, one code per link, kept in
      share_codes
   8  a household invite, hh_<code>: the household's own code, kept only as a hash
  10  an ambassador invite, ds_<code>: the invite's own code, kept only as a hash
The two secrets are long enough to be hard to guess, and short enough to read out.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import datetime

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import crockford
from bot import ambassadors, households
from bot.models import AmbassadorInvite, Household, ShareCode
from bot.text import fold

log = logging.getLogger(__name__)

GUIDE_LENGTH, HOUSEHOLD_LENGTH, INVITE_LENGTH = 6, 8, 10
LENGTHS = (GUIDE_LENGTH, HOUSEHOLD_LENGTH, INVITE_LENGTH)
MAX_TYPED = 40       # a code with its leading words and separators; anything longer is a question
WRONG_CODES_BUDGET = "100 per hour"   # wrong codes the process looks up (WrongCodes)
ATTEMPTS = 10        # a new guide code colliding 10 times in 32**6 is a broken random source

display = crockford.grouped


def read_code(typed: str) -> str | None:
    """The code a resident typed, as stored, if it has the length of one."""
    code = crockford.read(typed)
    return code if len(code) in LENGTHS else None


def codes_in(typed: str, lead_words: Collection[str] = ()) -> list[str]:
    """What a message may be: the whole of it as a code, or what follows leading words such as
    "code" (knowledge/<language>/stopwords.yaml, code_words). Both are tried, since a code may
    start with letters that spell such a word."""
    if len(typed) > MAX_TYPED:
        return []
    words = typed.split()
    found: list[str] = []
    for start in range(len(words)):
        if start and fold(words[start - 1]) not in lead_words:
            break
        code = read_code(" ".join(words[start:]))
        if code and code not in found:
            found.append(code)
    return found


class WrongCodes:
    """A budget of wrong codes for the whole process. The household code is 40 bits: guessing
    one among thousands of households takes about 10**8 tries, and this budget lets a script
    make 2,400 a day, whatever sessions or chats it opens. Past it, codes are not looked up
    (the message is answered as a question) until the hour has moved on."""

    def __init__(self, budget: str = WRONG_CODES_BUDGET):
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self._item = parse(budget)
        self._lock = threading.Lock()

    def spent(self) -> bool:
        with self._lock:
            return not self._windows.test(self._item, "wrong-codes")

    def count(self) -> None:
        with self._lock:
            self._windows.hit(self._item, "wrong-codes")
            if not self._windows.test(self._item, "wrong-codes"):   # this one spent the budget
                log.warning("many wrong share codes in the last hour: codes are not looked up for now")


wrong_codes = WrongCodes()


def payload_for(session: Session, typed: str, lead_words: Collection[str] = ()) -> str | None:
    """The deep-link payload of a code typed in a message, if it is one that exists."""
    candidates = codes_in(typed, lead_words)
    if not candidates or wrong_codes.spent():
        return None
    for code in candidates:
        payload = _lookup(session, code)
        if payload is not None:
            return payload
    wrong_codes.count()
    return None


def _lookup(session: Session, code: str) -> str | None:
    if len(code) == GUIDE_LENGTH:
        return session.scalar(select(ShareCode.payload).where(ShareCode.code == code))
    if len(code) == HOUSEHOLD_LENGTH:
        found = session.scalar(select(Household.id).where(Household.code_hash == households.hash_code(code)))
        return f"{households.HOUSEHOLD_PREFIX}{code}" if found is not None else None
    # An expired or used-up invite is found too: redeeming it then says so, as its link would.
    found = session.scalar(select(AmbassadorInvite.id).where(
        AmbassadorInvite.code_hash == ambassadors.hash_code(code)))
    return f"{ambassadors.INVITE_PREFIX}{code}" if found is not None else None


def code_for(session: Session, payload: str, now: datetime) -> str:
    """The guide code for a share link's payload, made the first time it is shared."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    existing = select(ShareCode.code).where(ShareCode.payload == payload)
    for _ in range(ATTEMPTS):
        code = session.scalar(existing)
        if code is not None:
            return code
        # No savepoint needed: a clash (the new code taken, or another process just made this
        # payload's code) inserts nothing, and the next round sees which it was.
        made = session.scalar(dialect.insert(ShareCode).values(
            code=crockford.new_code(GUIDE_LENGTH), payload=payload, created_at=now)
            .on_conflict_do_nothing().returning(ShareCode.code))
        if made is not None:
            return made
    raise RuntimeError("no free share code")
