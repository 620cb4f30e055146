"""What content editors read, by `hocvuso unanswered` and GET /api/v1/unanswered: the questions
the bot could not answer, and the answers residents said were not what they meant (👎)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from bot.models import AnswerVote, UnansweredQuestion


@dataclass(frozen=True)
class NotHelpful:
    """A question and the answer it got, with that answer's 👎 and 👍 for that question.

    Votes are kept by day: first_seen and last_seen are the start of those days in the
    commune, so the row reads like an unanswered question's (count is the 👎)."""

    text: str
    answer: str
    down: int
    up: int
    first_day: date
    last_day: date
    first_seen: datetime
    last_seen: datetime
    kind: str = "not_helpful"

    @property
    def count(self) -> int:
        return self.down


def unanswered(session: Session, limit: int) -> list[UnansweredQuestion]:
    """The unanswered questions, most asked first, then the most recent."""
    return list(session.scalars(select(UnansweredQuestion).order_by(
        UnansweredQuestion.count.desc(), UnansweredQuestion.last_seen.desc()).limit(limit)))


def not_helpful(session: Session, tz: ZoneInfo, limit: int) -> list[NotHelpful]:
    """The 👎 answers, most 👎 first, then the most recent."""
    down, up = aliased(AnswerVote), aliased(AnswerVote)
    rows = session.execute(
        select(down.question, down.answer, down.count, func.coalesce(up.count, 0), down.first_day, down.last_day)
        .outerjoin(up, and_(up.question == down.question, up.answer == down.answer, up.vote == "up"))
        .where(down.vote == "down")
        .order_by(down.count.desc(), down.last_day.desc(), down.question)
        .limit(limit))
    return [NotHelpful(text, answer, downs, ups, first, last, _day_start(first, tz), _day_start(last, tz))
            for text, answer, downs, ups, first, last in rows]


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)
