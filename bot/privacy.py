"""Forgetting a resident, on their request (/xoadulieu) or an official's (the admin API)."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import (Completion, EventSubscription, HelpSession, OutboxMessage, Progress, QuizAnswer,
                        QuizAttempt, Referral, Resident)


def forget_resident(session: Session, resident_id: int) -> None:
    """Remove every row about the resident, without relying on the database's cascades
    (SQLite enforces foreign keys only when asked to)."""
    attempts = select(QuizAttempt.id).where(QuizAttempt.resident_id == resident_id).scalar_subquery()
    session.execute(delete(QuizAnswer).where(QuizAnswer.attempt_id.in_(attempts)))
    for table in (QuizAttempt, Completion, Progress, OutboxMessage, EventSubscription):
        session.execute(delete(table).where(table.resident_id == resident_id))
    session.execute(delete(Referral).where((Referral.resident_id == resident_id)
                                           | (Referral.ambassador_id == resident_id)))
    session.execute(delete(HelpSession).where(HelpSession.ambassador_id == resident_id))
    session.execute(delete(Resident).where(Resident.id == resident_id))
