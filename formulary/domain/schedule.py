"""When a daily task is due (SPEC §14): pure rules, no clock of their own.

A daily task has a time of day in the clinic's zone ("02:00"). It is due on a clinic day
from that time on, for ``catch_up`` hours (a worker down at 02:00 and back at 03:10 still
makes the night's backup; one started in the afternoon does not send the morning's
digest). Whether it already ran that day is the caller's record, not this rule's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg, quoted


def parse_time_of_day(text: str, field: str = "time") -> time:
    """``"HH:MM"`` (24-hour) as a time; anything else raises ValidationError."""
    parts = str(text).strip().split(":")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) == 2 for p in parts):
        raise ValidationError(msg("Give the time as HH:MM, not %(text)s.", text=quoted(text)),
                              field=field)
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise ValidationError(msg("Give the time as HH:MM, not %(text)s.", text=quoted(text)),
                              field=field)
    return time(hour, minute)


def due_day(local_now: datetime, at: time, catch_up: timedelta = timedelta(hours=6)) -> date | None:
    """The clinic day whose run is due at ``local_now`` (an aware datetime in the clinic's
    zone), or None. Due from ``at`` on that day until ``catch_up`` after it (the wall
    clock: on the night the clocks go forward, 02:00 comes at 03:00 and it is due then)."""
    day = local_now.date()
    start = datetime.combine(day, at)
    wall = local_now.replace(tzinfo=None)
    if start <= wall < start + catch_up:
        return day
    return None
