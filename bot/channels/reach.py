"""Who can be messaged unasked: a messenger that can push (Telegram, Zalo), or a web chat
resident whose browser accepted notifications (Web Push). Reminders, announcements and
broadcasts go only to them, and broadcast counts count only them.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, case, exists, false, select, true
from sqlalchemy.orm import Session

from bot.channels import PUSH_PLATFORMS
from bot.models import Resident, WebPushSubscription

WEB = "web"


def reachable() -> ColumnElement[bool]:
    """A WHERE clause on Resident: messages sent unasked reach them.

    A CASE rather than "platform IN (...) OR (platform = 'web' AND ...)": SQLite answers that OR
    from the (platform, external_id) index and then sorts, which turns a walk of the first
    thousand residents in id order (bot/fanout.py) into a sort of them all."""
    subscribed = exists().where(WebPushSubscription.resident_id == Resident.id)
    return case((Resident.platform.in_(PUSH_PLATFORMS), true()), (Resident.platform == WEB, subscribed),
                else_=false()) == true()


def can_reach(session: Session, resident: Resident | None) -> bool:
    """One resident: True if a reminder or announcement would reach them."""
    if resident is None:
        return False
    if resident.platform in PUSH_PLATFORMS:
        return True
    return resident.platform == WEB and session.scalar(
        select(WebPushSubscription.id).where(WebPushSubscription.resident_id == resident.id).limit(1)) is not None
