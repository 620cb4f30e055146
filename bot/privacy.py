"""Forgetting a resident, on their request (/xoadulieu) or an official's (the admin API)."""
from __future__ import annotations

from sqlalchemy import String, cast, delete, exists, select, update
from sqlalchemy.orm import Session

from bot.tallies import tallies_of

from bot.models import (AuditEntry, Completion, EventSubscription, HelpSession, Household, OutboxMessage, Progress,
                        ProgressCode, QuizAnswer, QuizAttempt, Referral, Resident, WebPushSubscription)

# How the admin API names a resident in the audit log (admin_api/routers/residents.py), and
# what such an entry says once that resident is forgotten: the entry stays, as proof of what
# an official did, but no longer points at anyone.
AUDIT_SUBJECT = "resident {id}"
FORGOTTEN_SUBJECT = "resident (deleted)"


def forget_resident(session: Session, resident_id: int) -> None:
    """Remove every row about the resident, and every reference to them in rows kept for
    others, without relying on the database's cascades (SQLite enforces foreign keys only
    when asked to)."""
    tallies = tallies_of(session)
    if tallies is not None:
        tallies.forget(session, resident_id)     # the deletes below bypass the flush it follows
    households = _households_of(session, resident_id)
    attempts = select(QuizAttempt.id).where(QuizAttempt.resident_id == resident_id).scalar_subquery()
    session.execute(delete(QuizAnswer).where(QuizAnswer.attempt_id.in_(attempts)))
    for table in (QuizAttempt, Completion, Progress, OutboxMessage, EventSubscription, WebPushSubscription):
        session.execute(delete(table).where(table.resident_id == resident_id))
    session.execute(delete(ProgressCode).where((ProgressCode.resident_id == resident_id)
                                               | (ProgressCode.claimed_by == resident_id)))
    session.execute(delete(Referral).where((Referral.resident_id == resident_id)
                                           | (Referral.ambassador_id == resident_id)))
    session.execute(delete(HelpSession).where(HelpSession.ambassador_id == resident_id))
    session.execute(delete(Resident).where(Resident.id == resident_id))
    _leave_households(session, resident_id, households)
    _anonymize_audit(session, resident_id)


def _households_of(session: Session, resident_id: int) -> set[int]:
    """The household the resident is in, and those they created."""
    ids = set(session.scalars(select(Household.id).where(Household.created_by == resident_id)))
    ids |= {h for h in session.scalars(select(Resident.household_id).where(Resident.id == resident_id)) if h}
    return ids


def _leave_households(session: Session, resident_id: int, households: set[int]) -> None:
    """The family stays for its other members, without saying who made it; a family left
    with nobody in it goes (its village and date would be all that is left of the resident)."""
    session.execute(update(Household).where(Household.created_by == resident_id).values(created_by=None))
    if households:
        has_members = exists().where(Resident.household_id == Household.id)
        session.execute(delete(Household).where(Household.id.in_(households), ~has_members)
                        .execution_options(synchronize_session=False))


def _anonymize_audit(session: Session, resident_id: int) -> None:
    """Entries about the resident keep what was done and by whom, not to whom."""
    subject = AUDIT_SUBJECT.format(id=resident_id)
    session.execute(update(AuditEntry).where(AuditEntry.subject == subject).values(subject=FORGOTTEN_SUBJECT))
    # A detail naming a resident would say so in a key ("resident_id": 7): find those, then
    # look inside in Python, the same way on SQLite and PostgreSQL.
    for entry in session.scalars(select(AuditEntry).where(cast(AuditEntry.detail, String).like("%resident%"))):
        detail = _without_resident(entry.detail, resident_id)
        if detail != entry.detail:
            entry.detail = detail


def _without_resident(value, resident_id: int):
    """The JSON value with this id taken out of every key that names residents."""
    if isinstance(value, dict):
        return {key: _drop_id(item, resident_id) if "resident" in key else _without_resident(item, resident_id)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_without_resident(item, resident_id) for item in value]
    return value


def _drop_id(value, resident_id: int):
    if isinstance(value, list):
        return [item for item in value if not _is_id(item, resident_id)]
    return None if _is_id(value, resident_id) else _without_resident(value, resident_id)


def _is_id(value, resident_id: int) -> bool:
    return not isinstance(value, bool) and value in (resident_id, str(resident_id))
