"""Đại sứ số: invite codes, share links that credit the ambassador, and what they see.

Deep-link payloads (Telegram: at most 64 characters from A-Z a-z 0-9 _ -):
  ds_<code>                       become an ambassador with an invite code
  g_<course>_<step>_<ambassador>  open a course at a step, crediting the ambassador
Where there is no such link, a short code stands for the payload (bot/share_codes.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.crockford import new_code
from bot.models import AmbassadorInvite, Completion, HelpSession, Referral, Resident

PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
INVITE_PREFIX, GUIDE_PREFIX = "ds_", "g_"
INVITE_CODE_LENGTH = 10   # 50 bits, and an invite expires: short enough to read out over the phone


def deep_link(bot_username: str, payload: str) -> str:
    """The t.me link that opens the bot with /start <payload>."""
    return f"https://t.me/{bot_username}?start={payload}"


def web_link(public_url: str, payload: str) -> str:
    """The web chat link that does what /start <payload> does (the page sends it)."""
    return f"{public_url}/chat?start={payload}"


def new_invite_code() -> str:
    return new_code(INVITE_CODE_LENGTH)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_invite(session: Session, created_by: str, village_id: str | None, days: int, max_uses: int,
                  now: datetime) -> tuple[str, AmbassadorInvite]:
    code = new_invite_code()
    while session.scalar(select(AmbassadorInvite.id).where(AmbassadorInvite.code_hash == hash_code(code))):
        code = new_invite_code()   # hashes are unique: a clash would fail the request
    invite = AmbassadorInvite(code_hash=hash_code(code), village_id=village_id, created_by=created_by,
                              created_at=now, expires_at=now + timedelta(days=days), max_uses=max_uses, uses=0)
    session.add(invite)
    session.flush()
    return code, invite


def redeem(session: Session, resident: Resident, code: str, now: datetime) -> str:
    """'ok', 'already', 'unknown' (forged or mistyped), 'expired' or 'used'."""
    if resident.ambassador_since is not None:
        return "already"
    if not PAYLOAD.match(code or ""):
        return "unknown"
    invite = session.scalar(select(AmbassadorInvite).where(AmbassadorInvite.code_hash == hash_code(code)))
    if invite is None:
        return "unknown"
    if invite.expires_at <= now:
        return "expired"
    # One atomic increment: two neighbours redeeming the last use at once cannot both win.
    taken = session.execute(update(AmbassadorInvite).where(AmbassadorInvite.id == invite.id,
                                                           AmbassadorInvite.uses < AmbassadorInvite.max_uses)
                            .values(uses=AmbassadorInvite.uses + 1)).rowcount
    if not taken:
        return "used"
    resident.ambassador_since = now
    if resident.village_id is None and invite.village_id is not None:
        resident.village_id = invite.village_id
    return "ok"


@dataclass(frozen=True)
class GuideLink:
    course_id: str
    step: int
    ambassador_id: int

    @property
    def payload(self) -> str:
        return f"{GUIDE_PREFIX}{self.course_id}_{self.step}_{self.ambassador_id}"

    @classmethod
    def parse(cls, payload: str) -> GuideLink | None:
        if not payload.startswith(GUIDE_PREFIX) or not PAYLOAD.match(payload):
            return None
        parts = payload[len(GUIDE_PREFIX):].rsplit("_", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit() or len(parts[2]) > 10:
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))


def credit(session: Session, resident: Resident, link: GuideLink, now: datetime) -> bool:
    """Credit the ambassador with this neighbour, once: the first link that brought them counts."""
    if link.ambassador_id == resident.id:
        return False
    ambassador = session.get(Resident, link.ambassador_id)
    if ambassador is None or ambassador.ambassador_since is None:
        return False
    if session.get(Referral, resident.id) is not None:
        return False
    session.add(Referral(resident_id=resident.id, ambassador_id=ambassador.id, course_id=link.course_id,
                         created_at=now))
    session.flush()
    return True


@dataclass
class Helped:
    first_name: str | None
    completed: list[str]


def helped_by(session: Session, ambassador_id: int) -> list[Helped]:
    """The neighbours an ambassador helped: first name and completed courses only. Every
    resident row exists only with consent, and a deleted neighbour disappears from here."""
    rows = session.execute(select(Resident.id, Resident.first_name).join(Referral, Referral.resident_id == Resident.id)
                           .where(Referral.ambassador_id == ambassador_id).order_by(Referral.created_at)).all()
    done: dict[int, list[str]] = {rid: [] for rid, _ in rows}
    if done:
        for rid, course in session.execute(select(Completion.resident_id, Completion.course_id)
                                           .where(Completion.resident_id.in_(list(done)))
                                           .order_by(Completion.completed_at)):
            done[rid].append(course)
    return [Helped(name, done[rid]) for rid, name in rows]


def helped_count(session: Session, ambassador_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Referral).where(Referral.ambassador_id == ambassador_id)) or 0


@dataclass
class Ranked:
    rank: int
    ambassador_id: int
    first_name: str | None
    village_id: str | None
    helped: int            # neighbours who came through their links in the period
    completions: int       # courses their neighbours (ever credited to them) completed in the period
    people_in_sessions: int


def ranking(session: Session, start: datetime, end: datetime, village: str | None = None,
            limit: int = 50) -> list[Ranked]:
    """Thi đua: ambassadors by neighbours helped, then by courses those neighbours completed,
    then by people helped hands-on, in [start, end). Aggregated in SQL."""
    helped = (select(Referral.ambassador_id.label("aid"), func.count().label("n"))
              .where(Referral.created_at >= start, Referral.created_at < end)
              .group_by(Referral.ambassador_id).subquery())
    completed = (select(Referral.ambassador_id.label("aid"), func.count().label("n"))
                 .join(Completion, Completion.resident_id == Referral.resident_id)
                 .where(Completion.completed_at >= start, Completion.completed_at < end)
                 .group_by(Referral.ambassador_id).subquery())
    hands_on = (select(HelpSession.ambassador_id.label("aid"), func.sum(HelpSession.people).label("n"))
                .where(HelpSession.held_at >= start, HelpSession.held_at < end)
                .group_by(HelpSession.ambassador_id).subquery())
    h, c, p = (func.coalesce(q.c.n, 0) for q in (helped, completed, hands_on))
    query = (select(Resident.id, Resident.first_name, Resident.village_id, h, c, p)
             .outerjoin(helped, helped.c.aid == Resident.id).outerjoin(completed, completed.c.aid == Resident.id)
             .outerjoin(hands_on, hands_on.c.aid == Resident.id)
             .where(Resident.ambassador_since.is_not(None), (h + c + p) > 0)
             .order_by(h.desc(), c.desc(), p.desc(), Resident.ambassador_since, Resident.id).limit(limit))
    if village is not None:
        query = query.where(Resident.village_id == village)
    return [Ranked(i + 1, rid, name, vid, int(hn), int(cn), int(pn))
            for i, (rid, name, vid, hn, cn, pn) in enumerate(session.execute(query))]
