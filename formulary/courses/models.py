"""Treatment courses, their sessions, consent, administrations and adverse events (SPEC §11).

A course's status is derived from its sessions (``domain.courses.course_status``) and kept
on the row by the services at every change, so lists can filter on it. A session stores
what was recorded (``planned``, ``given``, ``missed``, ``cancelled``); ``overdue`` is read
from its date and the clinic's today, never stored.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import Quantity, UTCDateTime, utcnow
from formulary.extensions import db


class ConsentText(db.Model):
    """A consent text of an area, versioned: a new text for an area is its next version;
    a text never changes (there is no route or service that edits one)."""

    __tablename__ = "consent_text"
    __table_args__ = (
        UniqueConstraint("area", "version", name="uq_consent_text_area_version"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)


class Course(db.Model):
    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint("planned_sessions BETWEEN 1 AND 24", name="planned_sessions"),
        CheckConstraint("interval_days BETWEEN 1 AND 365", name="interval_days"),
        CheckConstraint("status IN ('planned','active','completed','stopped')", name="status"),
        # the course list's order (newest start, then newest id) read from the index
        Index("ix_course_start", "start_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    cocktail_id: Mapped[int] = mapped_column(ForeignKey("cocktail.id"), index=True)
    area: Mapped[str] = mapped_column(String(10))
    indication: Mapped[str] = mapped_column(String(200), default="")
    planned_sessions: Mapped[int] = mapped_column(Integer)
    interval_days: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="planned", index=True)
    stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)

    sessions: Mapped[list["CourseSession"]] = relationship(
        back_populates="course", order_by="CourseSession.number")
    patient = relationship("Patient")
    cocktail = relationship("Cocktail")
    practitioner = relationship("User", foreign_keys=[practitioner_id])


class CourseRevision(db.Model):
    """One row (id 1): a new random token at every commit that wrote a course or a
    session (``courses.revision``). The dashboard's counts of sessions due and overdue
    are kept for one token and one clinic day (``courses.dashboard``)."""

    __tablename__ = "course_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class CourseSession(db.Model):
    __tablename__ = "course_session"
    __table_args__ = (
        UniqueConstraint("course_id", "number", name="uq_course_session_number"),
        CheckConstraint("status IN ('planned','given','missed','cancelled')", name="status"),
        Index("ix_course_session_planned_on", "planned_on"),
        # sessions due and overdue (planned, on or before a day) with their course, read
        # from the index alone by the dashboard's counts
        Index("ix_course_session_due", "status", "planned_on", "course_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    planned_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    status_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    course: Mapped[Course] = relationship(back_populates="sessions")


class Consent(db.Model):
    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_text.id"), index=True)
    consented_on: Mapped[date] = mapped_column(Date)
    taken_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)

    text = relationship("ConsentText")
    taken_by = relationship("User", foreign_keys=[taken_by_id])


class ConsentScan(db.Model):
    """The scanned signed form of a consent, kept as a blob in its own table: written in
    the same transaction as the consent (no file without its row, no row without its
    file, nothing to clean up after a refused request), backed up with the database, and
    never read with the consent itself (its bytes load only when downloaded)."""

    __tablename__ = "consent_scan"
    __table_args__ = (CheckConstraint("size > 0 AND size <= 10485760", name="size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id"), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Administration(db.Model):
    """A verified batch (or part of it) given to the patient at one session."""

    __tablename__ = "administration"
    __table_args__ = (
        CheckConstraint("doses > 0", name="doses_positive"),
        CheckConstraint("technique IN ('nappage','papules','point_by_point','other')",
                        name="technique"),
        Index("ix_administration_given_at", "given_at"),
        # the doses given per batch summed from the index alone (the dashboard's count
        # of batches past their beyond-use instant that were fully given)
        Index("ix_administration_batch_doses", "batch_id", "doses"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    doses: Mapped[int] = mapped_column(Integer)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    given_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    sites: Mapped[str] = mapped_column(Text)
    technique: Mapped[str] = mapped_column(String(16))
    depth_mm: Mapped[Decimal | None] = mapped_column(Quantity, nullable=True)
    needle: Mapped[str | None] = mapped_column(String(100), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    safety_verdict: Mapped[str | None] = mapped_column(String(10), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list["AdministrationLine"]] = relationship(
        back_populates="administration", order_by="AdministrationLine.id")
    session = relationship("CourseSession")
    course = relationship("Course")
    batch = relationship("Batch")
    given_by = relationship("User", foreign_keys=[given_by_id])


class AdministrationLine(db.Model):
    """What of one lot reached the patient: the batch line scaled to the doses given."""

    __tablename__ = "administration_line"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administration.id"), index=True)
    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(8))

    administration: Mapped[Administration] = relationship(back_populates="lines")
    ingredient = relationship("Ingredient")
    lot = relationship("Lot")


class AdverseEvent(db.Model):
    __tablename__ = "adverse_event"
    __table_args__ = (
        CheckConstraint("kind IN ('bruising','swelling','erythema','pain','nodule','infection',"
                        "'allergic_reaction','necrosis','other')", name="kind"),
        CheckConstraint("severity IN ('mild','moderate','severe')", name="severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administration.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    onset: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    action: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    administration = relationship("Administration")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])


def _doses_given_of_batch():
    """``Batch.doses_given``: the doses administered from a batch, read with the batch in
    the same statement (a correlated sum), so its effective state (SPEC §12: given,
    partly given, doses left) costs no statement more on a list of batches."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import column_property

    from formulary.compounding.models import Batch

    Batch.doses_given = column_property(
        select(func.coalesce(func.sum(Administration.doses), 0))
        .where(Administration.batch_id == Batch.id)
        .correlate_except(Administration).scalar_subquery())


_doses_given_of_batch()
