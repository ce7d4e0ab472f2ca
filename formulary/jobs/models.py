"""A job: work asked for by a user (or the schedule) and done by a worker (SPEC §14).

The row is what the pages and the API read: who asked, what, with which parameters, how
far it is (``rows_done`` of ``rows_total``), how it ended (``error``: the reason of a
failure), and the file it made. The queue (huey) only carries the job's id.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import UTCDateTime, utcnow
from formulary.extensions import db

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed')", name="status"),
        CheckConstraint("rows_done >= 0", name="rows_done"),
        Index("ix_job_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_job_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    #: Who asked; None for the schedule's own jobs (the nightly backup).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The finished file (renamed into place only when complete); None before, and after
    #: the cleanup deleted it.
    file_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user = relationship("User")

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.params_json or "{}")

    @params.setter
    def params(self, value: dict[str, Any]) -> None:
        self.params_json = json.dumps(value, sort_keys=True, default=_plain)

    @property
    def progress(self) -> int:
        """0-100: rows written of rows to write (100 once done)."""
        if self.status == "done":
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)


def _plain(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a job parameter")


class ScheduledRun(db.Model):
    """One row per scheduled task and clinic day it ran: several workers (one per app
    server) all see the nightly backup due, and only the one whose insert wins runs it."""

    __tablename__ = "scheduled_run"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), nullable=True)
