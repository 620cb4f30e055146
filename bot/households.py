"""Gia đình số: a household learns together; it counts once a member has finished the core
courses (knowledge/targets.yaml). Members join through a link, hh_<code>, or by sending the code
(bot/share_codes.py)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.crockford import new_code
from bot.models import Completion, Household, Resident

HOUSEHOLD_PREFIX = "hh_"
CODE_LENGTH = 8   # 40 bits: hard to guess, short enough to read out over the phone


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _unused_code(session: Session) -> str:
    """A code no household has (hashes are unique: a clash would fail the whole turn)."""
    while True:
        code = new_code(CODE_LENGTH)
        if session.scalar(select(Household.id).where(Household.code_hash == hash_code(code))) is None:
            return code


def create_household(session: Session, resident: Resident) -> str:
    """Make a household with the resident in it; returns the code for the invite link."""
    code = _unused_code(session)
    household = Household(code_hash=hash_code(code), village_id=resident.village_id, created_by=resident.id)
    session.add(household)
    session.flush()
    resident.household_id = household.id
    return code


def new_invite_code(session: Session, resident: Resident) -> str | None:
    """A fresh code for the resident's household (the old link stops working)."""
    household = session.get(Household, resident.household_id) if resident.household_id else None
    if household is None:
        return None
    code = _unused_code(session)
    household.code_hash = hash_code(code)
    return code


def join_household(session: Session, resident: Resident, code: str) -> bool:
    household = session.scalar(select(Household).where(Household.code_hash == hash_code(code)))
    if household is None:
        return False
    resident.household_id = household.id
    if household.village_id is None and resident.village_id is not None:
        household.village_id = resident.village_id
    return True


@dataclass
class Member:
    first_name: str | None
    core_done: list[str]


def members(session: Session, household_id: int, core: list[str]) -> list[Member]:
    rows = session.execute(select(Resident.id, Resident.first_name).where(Resident.household_id == household_id)
                           .order_by(Resident.created_at)).all()
    done: dict[int, list[str]] = {rid: [] for rid, _ in rows}
    for rid, course in session.execute(select(Completion.resident_id, Completion.course_id).where(
            Completion.resident_id.in_(list(done)), Completion.course_id.in_(core))):
        done[rid].append(course)
    return [Member(name, done[rid]) for rid, name in rows]
