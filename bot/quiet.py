"""Quiet hours: proactive messages (broadcasts, reminders) wait for the morning."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end          # the usual case: over midnight


def after_quiet_hours(when: datetime, tz: ZoneInfo, quiet: tuple[time, time]) -> datetime:
    """`when` itself, or the end of the quiet hours it falls in (UTC)."""
    start, end = quiet
    local = when.astimezone(tz)
    if not in_quiet_hours(local.time(), start, end):
        return when
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tz).astimezone(timezone.utc)
