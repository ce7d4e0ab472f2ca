"""The clinic's clock: its time zone and today's date there."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from formulary.db import utcnow


def clinic_tz() -> ZoneInfo:
    name = current_app.config["CLINIC_TIMEZONE"] if has_app_context() else "UTC"
    return ZoneInfo(name)


def now() -> datetime:
    return utcnow()


def today() -> date:
    return utcnow().astimezone(clinic_tz()).date()


def local(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.astimezone(clinic_tz())
