"""Recalls (SPEC §12): opened when a lot is recalled, with the batches that used the lot
and a worklist of the patients it reached.

The batches are fixed when the recall opens: a recalled lot is never picked again, and a
batch on hold is never given, so no batch or administration can join later. The
administrations are read through the batches (``Administration.batch_id``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import UTCDateTime, utcnow
from formulary.extensions import db


class Recall(db.Model):
    __tablename__ = "recall"
    __table_args__ = (CheckConstraint("status IN ('open','closed')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A recall is final, so a lot is recalled once: one recall per lot.
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    lot = relationship("Lot")
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    batches: Mapped[list["RecallBatch"]] = relationship(
        back_populates="recall", order_by="RecallBatch.batch_id")
    patients: Mapped[list["RecallPatient"]] = relationship(
        back_populates="recall", order_by="RecallPatient.id")


class RecallBatch(db.Model):
    """A batch that used the recalled lot (whatever its state when the recall opened)."""

    __tablename__ = "recall_batch"

    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), primary_key=True, index=True)

    recall: Mapped[Recall] = relationship(back_populates="batches")
    batch = relationship("Batch")


class RecallPatient(db.Model):
    """A patient on a recall's worklist, with where they stand."""

    __tablename__ = "recall_patient"
    __table_args__ = (
        UniqueConstraint("recall_id", "patient_id", name="uq_recall_patient"),
        CheckConstraint("status IN ('to_contact','contacted','unreachable','not_needed')",
                        name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="to_contact")
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    recall: Mapped[Recall] = relationship(back_populates="patients")
    patient = relationship("Patient")
    set_by = relationship("User", foreign_keys=[set_by_id])
