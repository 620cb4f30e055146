"""Villages and plan targets: seeded into the database from knowledge/, then edited there.

Officials edit them through the admin API, so the database is the source of truth once
seeded; seeding only adds rows that are missing and never overwrites an edit.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.content import Knowledge
from bot.models import Target, Village

# The start payload of a poster's links, v_<village id> (bot/poster.py): after consent the
# profile offers that village first (bot/handlers/start.py follow_link).
VILLAGE_PREFIX = "v_"


def seed_reference_data(sessions: sessionmaker[Session], knowledge: Knowledge) -> None:
    with sessions() as session:
        villages = set(session.scalars(select(Village.id)))
        for position, village in enumerate(knowledge.villages):
            if village.id not in villages:
                session.add(Village(id=village.id, name=village.name, kind=village.kind,
                                    adult_population=village.adult_population,
                                    households=village.households, position=position))
        targets = {(y, i) for y, i in session.execute(select(Target.year, Target.indicator))}
        for year, percents in knowledge.plan.targets.items():
            for indicator, percent in percents.items():
                if (year, indicator) not in targets:
                    session.add(Target(year=year, indicator=indicator, percent=percent))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another process seeded at the same moment


def villages(session: Session) -> list[Village]:
    return list(session.scalars(select(Village).order_by(Village.position, Village.name)))
