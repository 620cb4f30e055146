"""Mã tiến độ (progress codes): moving a resident's learning record to another browser or messenger.

A web chat resident is one browser's storage: clearing it, or opening the link in another app's
browser, starts over. On the old device the resident asks for a code (/matiendo, or /caidat); on
the new one they agree to keep their progress and send the code; after a confirm, the new chat
gains the old one's record and the old resident is forgotten (a moved resident is one person,
counted once in every report).

The code is nine digits, shown "482 109 375":
- Digits only: read out over the phone, digits are what elderly residents say and hear best
  ("bốn tám hai…"), and a phone's number pad types them. Groups of three are how Vietnamese read
  long numbers.
- Nine, because no share code has nine characters (bot/share_codes.py: 6, 8 and 10 symbols of
  Crockford's base32, which has the ten digits in it). An 8-digit code could also be a household
  code that happened to draw only digits (one in about 10,000 does); by its length alone, a
  9-digit code is never read as a share code, nor a share code as this.
- 10**9 codes, each living 15 minutes and working once, against at most 5 wrong tries per
  resident in 15 minutes and the process's budget of wrong codes (share_codes.wrong_codes):
  guessing a live one is hopeless.
Only the code's SHA-256 is kept.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import share_codes
from bot.models import (Completion, EventSubscription, HelpSession, Household, Progress, ProgressCode,
                        QuizAttempt, Referral, Resident)
from bot.privacy import forget_resident
from bot.text import fold

DIGITS = 9
LIFETIME = timedelta(minutes=15)
# Expired and used codes stay (hashed) this long, so that one sent late gets a kind "make a new
# one" rather than "this code does not exist"; then they go when anyone makes a code.
KEEP_SPENT = timedelta(days=1)
WRONG_TRIES = 5                   # wrong codes a resident may send…
LOCK = timedelta(minutes=15)      # …before waiting this long
SEPARATORS = str.maketrans("", "", ".-")
ATTEMPTS = 10                     # a new code clashing with a live one 10 times is a broken random source


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


def display(code: str) -> str:
    """"482 109 375": three groups of three, as a long number is read out."""
    return " ".join(code[i:i + 3] for i in range(0, len(code), 3))


def read_code(typed: str, lead_words: Collection[str] = ()) -> str | None:
    """The code in a message, if the message is one: nine digits, with or without spaces, dots or
    dashes, after words such as "mã tiến độ" (code_words in knowledge/<language>/stopwords.yaml),
    with or without diacritics. Anything else (a question with a number in it) is not a code."""
    if len(typed) > share_codes.MAX_TYPED:
        return None
    words = typed.split()
    # Leading words (and a lone ":"), as long as they hold no digit: "mã số: 482 109 375".
    while words and not any(ch.isdigit() for ch in words[0]) and fold(words[0]) in {*lead_words, ""}:
        words.pop(0)
    text = "".join(words).translate(SEPARATORS)
    return text if len(text) == DIGITS and text.isascii() and text.isdigit() else None


def make_code(session: Session, resident: Resident, now: datetime) -> str:
    """A new code for the resident; their unused codes stop working."""
    session.execute(delete(ProgressCode).where(ProgressCode.resident_id == resident.id,
                                               ProgressCode.used_at.is_(None))
                    .execution_options(synchronize_session=False))
    session.execute(delete(ProgressCode).where(ProgressCode.expires_at < now - KEEP_SPENT)
                    .execution_options(synchronize_session=False))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for _ in range(ATTEMPTS):
        code = new_code()
        # A clash with a live code inserts nothing (no savepoint needed), and another is drawn.
        made = session.scalar(dialect.insert(ProgressCode).values(
            code_hash=hash_code(code), resident_id=resident.id, created_at=now, expires_at=now + LIFETIME)
            .on_conflict_do_nothing().returning(ProgressCode.id))
        if made is not None:
            return code
    raise RuntimeError("no free progress code")


def find(session: Session, code: str) -> ProgressCode | None:
    return session.scalar(select(ProgressCode).where(ProgressCode.code_hash == hash_code(code)))


def spend(session: Session, code_id: int, target: Resident, now: datetime) -> Resident | None:
    """Mark the code used by the target, once, if it is still good and the target claimed it;
    returns the resident whose progress moves. The conditional UPDATE makes two presses (or two
    processes) spend it once: a second waits for the first to commit, then finds it used."""
    source_id = session.scalar(select(ProgressCode.resident_id).where(ProgressCode.id == code_id))
    if source_id is None or source_id == target.id:
        return None
    # The used code is kept as the target's (its source is about to be forgotten), so that it is
    # recognised as used if sent again; it goes with the target, or a day after it expires.
    spent = session.execute(
        update(ProgressCode).where(ProgressCode.id == code_id, ProgressCode.resident_id == source_id,
                                   ProgressCode.used_at.is_(None), ProgressCode.claimed_by == target.id,
                                   ProgressCode.expires_at > now)
        .values(used_at=now, resident_id=target.id).execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        return None
    return session.get(Resident, source_id)


# ---- what moves -----------------------------------------------------------------------------------

@dataclass
class Record:
    """What a resident's progress holds, for the confirm, by course id."""
    completed: dict[str, datetime] = field(default_factory=dict)   # course id -> first pass
    studying: dict[str, int] = field(default_factory=dict)   # course id -> step index
    certified: bool = False
    ambassador: bool = False


def record_of(session: Session, resident_id: int) -> Record:
    resident = session.get(Resident, resident_id)
    completed = dict(session.execute(select(Completion.course_id, Completion.completed_at)
                                     .where(Completion.resident_id == resident_id)).all())
    studying = {course: step for course, step in session.execute(
        select(Progress.course_id, Progress.step_index).where(Progress.resident_id == resident_id))
        if course not in completed}
    return Record(completed, studying, resident is not None and resident.certified_at is not None,
                  resident is not None and resident.ambassador_since is not None)


def move(session: Session, source: Resident, target: Resident) -> None:
    """Give the target the source's learning record, then forget the source, in the caller's
    transaction. The target keeps who it is (platform, chat id, consent); every table that names
    a resident is handled: what is about the person moves, what is about the old chat goes with
    it (its outbox, its browser's notifications, its pending question)."""
    session.flush()
    s, t = source.id, target.id
    _merge_resident(source, target)
    _merge_progress(session, s, t)
    _merge_completions(session, s, t)
    # Attempts have no unique key; their answers follow them (keyed by attempt).
    session.execute(update(QuizAttempt).where(QuizAttempt.resident_id == s).values(resident_id=t))
    _merge_subscriptions(session, s, t)
    _merge_referrals(session, s, t)
    session.execute(update(HelpSession).where(HelpSession.ambassador_id == s).values(ambassador_id=t))
    # The family they made is still the one they made.
    session.execute(update(Household).where(Household.created_by == s).values(created_by=t))
    session.flush()
    forget_resident(session, s)
    if source in session:
        session.expunge(source)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def _merge_resident(source: Resident, target: Resident) -> None:
    # The profile: what the target has not said yet.
    for name in ("first_name", "village_id", "group_id", "age_band", "household_id"):
        if getattr(target, name) is None:
            setattr(target, name, getattr(source, name))
    target.certified_at = _earliest(target.certified_at, source.certified_at)
    target.ambassador_since = _earliest(target.ambassador_since, source.ambassador_since)
    target.official = target.official or source.official
    # Turned off on either device: they did not want reminders.
    target.reminders = target.reminders and source.reminders
    # "Tôi muốn nghe" on either device: they read with difficulty on both.
    target.listen = target.listen or source.listen
    target.last_reminded_at = _latest(target.last_reminded_at, source.last_reminded_at)
    # Registered when they first registered: reports count them once, in the period they came.
    target.created_at = min(target.created_at, source.created_at)
    target.last_seen_at = max(target.last_seen_at, source.last_seen_at)


def _merge_progress(session: Session, s: int, t: int) -> None:
    """Per course, the further step."""
    mine = {p.course_id: p for p in session.scalars(select(Progress).where(Progress.resident_id == t))}
    for theirs in session.scalars(select(Progress).where(Progress.resident_id == s)).all():
        own = mine.get(theirs.course_id)
        if own is None:
            session.add(Progress(resident_id=t, course_id=theirs.course_id, step_index=theirs.step_index,
                                 started_at=theirs.started_at, updated_at=theirs.updated_at))
            continue
        own.step_index = max(own.step_index, theirs.step_index)
        own.started_at = min(own.started_at, theirs.started_at)
        own.updated_at = max(own.updated_at, theirs.updated_at)


def _merge_completions(session: Session, s: int, t: int) -> None:
    """Per course, the first pass and the best score."""
    mine = {c.course_id: c for c in session.scalars(select(Completion).where(Completion.resident_id == t))}
    for theirs in session.scalars(select(Completion).where(Completion.resident_id == s)).all():
        own = mine.get(theirs.course_id)
        if own is None:
            session.add(Completion(resident_id=t, course_id=theirs.course_id, completed_at=theirs.completed_at,
                                   best_percent=theirs.best_percent))
            continue
        own.completed_at = min(own.completed_at, theirs.completed_at)
        own.best_percent = max(own.best_percent, theirs.best_percent)


def _merge_subscriptions(session: Session, s: int, t: int) -> None:
    mine = set(session.scalars(select(EventSubscription.event_id).where(EventSubscription.resident_id == t)))
    for theirs in session.scalars(select(EventSubscription).where(EventSubscription.resident_id == s)).all():
        if theirs.event_id not in mine:
            session.add(EventSubscription(event_id=theirs.event_id, resident_id=t, created_at=theirs.created_at))


def _merge_referrals(session: Session, s: int, t: int) -> None:
    """One credit per neighbour (the first link that brought them), and an ambassador's
    neighbours stay credited to them. A credit of the person to themselves goes."""
    session.execute(delete(Referral).where(((Referral.resident_id == t) & (Referral.ambassador_id == s))
                                           | ((Referral.resident_id == s) & (Referral.ambassador_id == t))))
    theirs, own = session.get(Referral, s), session.get(Referral, t)
    if theirs is not None:
        if own is None:
            session.add(Referral(resident_id=t, ambassador_id=theirs.ambassador_id, course_id=theirs.course_id,
                                 created_at=theirs.created_at))
        elif theirs.created_at < own.created_at:
            own.ambassador_id, own.course_id, own.created_at = (theirs.ambassador_id, theirs.course_id,
                                                                theirs.created_at)
    session.flush()
    session.execute(update(Referral).where(Referral.ambassador_id == s).values(ambassador_id=t))


# ---- guessing --------------------------------------------------------------------------------------

class WrongTries:
    """Wrong codes per resident, in this process's memory: after WRONG_TRIES within LOCK, the
    resident waits LOCK before any code is looked up for them. Times are the turn's `now`."""

    def __init__(self, tries: int = WRONG_TRIES, lock: timedelta = LOCK):
        self.tries, self.lock = tries, lock
        self._recent: dict[int, list[datetime]] = {}
        self._until: dict[int, datetime] = {}
        self._mutex = threading.Lock()

    def wait(self, resident_id: int, now: datetime) -> timedelta | None:
        """How long the resident must still wait, or None."""
        with self._mutex:
            until = self._until.get(resident_id)
            if until is None:
                return None
            if until <= now:
                del self._until[resident_id]
                return None
            return until - now

    def count(self, resident_id: int, now: datetime) -> bool:
        """One more wrong code; True if it locks the resident out."""
        with self._mutex:
            recent = [t for t in self._recent.get(resident_id, []) if now - t < self.lock] + [now]
            if len(recent) >= self.tries:
                self._recent.pop(resident_id, None)
                self._until[resident_id] = now + self.lock
                locked = True
            else:
                self._recent[resident_id] = recent
                locked = False
            if len(self._recent) + len(self._until) > 10_000:   # a flood of chats: keep what still counts
                self._recent = {r: ts for r, ts in self._recent.items() if now - ts[-1] < self.lock}
                self._until = {r: u for r, u in self._until.items() if u > now}
            return locked


wrong_tries = WrongTries()
