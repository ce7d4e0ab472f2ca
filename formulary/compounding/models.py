"""Batches: the compounding record (SPEC §7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import Quantity, UTCDateTime, utcnow
from formulary.extensions import db

BATCH_STATUSES = ("prepared", "verified", "discarded")
#: The longest override or discard reason (the service, the forms and CHECKs agree).
REASON_MAX = 2000


class Batch(db.Model):
    __tablename__ = "batch"
    __table_args__ = (
        CheckConstraint("doses > 0", name="doses_positive"),
        CheckConstraint("status IN ('prepared','verified','discarded')", name="status"),
        CheckConstraint("verified_by_id IS NULL OR verified_by_id <> prepared_by_id", name="four_eyes"),
        CheckConstraint(f"length(override_reason) <= {REASON_MAX}", name="override_reason_length"),
        CheckConstraint(f"length(discard_reason) <= {REASON_MAX}", name="discard_reason_length"),
        UniqueConstraint("prepared_by_id", "idempotency_key", name="uq_batch_idempotency"),
        Index("ix_batch_prepared_at", "prepared_at"),
        # the dashboard's counts by status and beyond-use instant (awaiting verification,
        # past their beyond-use instant), read from the index
        Index("ix_batch_status_beyond_use", "status", "beyond_use_at"),
        # a patient's batches, and the batches of no patient in id order (the batch list
        # sorted by patient: its last pages), read from the index on PostgreSQL too
        # (SQLite's index on patient_id alone holds the rowid after it anyway)
        Index("ix_batch_patient", "patient_id", "id"),
        # the batch list sorted by the patient's name or MRN, paged through these
        # (``compounding.patient_order``)
        Index("ix_batch_patient_name_order", "patient_last_key", "patient_first_key", "id"),
        Index("ix_batch_patient_mrn_order", "patient_mrn_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_number: Mapped[str] = mapped_column(String(24), unique=True)
    cocktail_id: Mapped[int] = mapped_column(ForeignKey("cocktail.id"), index=True)
    cocktail_version_id: Mapped[int] = mapped_column(ForeignKey("cocktail_version.id"), index=True)
    doses: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), nullable=True)
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beyond_use_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beyond_use_reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="prepared")
    safety_verdict: Mapped[str | None] = mapped_column(String(10), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discard_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: Doses left to give, no lot on hold, not discarded: one of the batches the
    #: dashboard counts as "expired, not given" once past its beyond-use instant. Kept by
    #: ``compounding.tally`` at every commit that changes the batch, its administrations,
    #: its lines or its lots' status; false until the first commit has counted it.
    outstanding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: ``lower()`` of the patient's last name, first name and MRN (NULL without a patient),
    #: written by the database's triggers only (``compounding.patient_order``): the batch
    #: list's order by patient. Not loaded with a batch.
    patient_last_key: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    patient_first_key: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    patient_mrn_key: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)

    lines: Mapped[list["BatchLine"]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", order_by="BatchLine.id")
    cocktail = relationship("Cocktail")
    version = relationship("CocktailVersion")
    patient = relationship("Patient")
    prepared_by = relationship("User", foreign_keys=[prepared_by_id])
    verified_by = relationship("User", foreign_keys=[verified_by_id])
    discarded_by = relationship("User", foreign_keys=[discarded_by_id])

    #: Not a column: set by ``prepare_batch`` when a repeated idempotency key answered
    #: the batch made the first time (the API then answers 200 rather than 201).
    replayed = False


class BatchLine(db.Model):
    """The quantity of one lot taken for a batch (in the ingredient's stock unit)."""

    __tablename__ = "batch_line"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id", ondelete="CASCADE"), index=True)
    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(8))

    batch: Mapped[Batch] = relationship(back_populates="lines")
    lot = relationship("Lot")
    ingredient = relationship("Ingredient")


class BatchTally(db.Model):
    """One row (id 1): how many batches are ``outstanding`` (doses left, no lot on hold,
    not discarded), and how many there are in all, kept by ``compounding.tally`` in the
    transaction that changes them.
    The dashboard's "expired, not given" is this number less the outstanding batches
    still within their beyond-use instant (a few: an index range of the recent ones)."""

    __tablename__ = "batch_tally"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outstanding: Mapped[int] = mapped_column(Integer, default=0)
    #: every batch ever prepared (the batch list's total when it is not filtered: a
    #: count of 50,000 rows cost PostgreSQL 5-6 ms on each view of the list)
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


from formulary.compounding import patient_order  # noqa: E402,F401  (its triggers after create_all)
