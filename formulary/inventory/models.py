"""Ingredients, allergen groups, lots and the stock ledger (SPEC §4)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer,
                        String, Table, Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import Money, Quantity, UTCDateTime, utcnow
from formulary.extensions import db

CATEGORIES = ("vitamin", "mineral", "amino_acid", "drug", "anesthetic", "hyaluronic_acid",
              "peptide", "enzyme", "plant_extract", "diluent", "other")
STORAGES = ("room", "fridge")
LOT_STATUSES = ("available", "quarantined", "recalled")
MOVEMENT_KINDS = ("receipt", "batch_use", "adjustment")
ADJUSTMENT_REASONS = ("waste", "breakage", "count_correction", "return", "other")
#: The longest free texts kept (the services, the forms and CHECKs agree).
INGREDIENT_NOTES_MAX, GROUP_DESCRIPTION_MAX, STATUS_REASON_MAX = 4000, 2000, 500


def _in(values) -> str:
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


ingredient_allergen_group = Table(
    "ingredient_allergen_group", db.metadata,
    Column("ingredient_id", ForeignKey("ingredient.id", ondelete="CASCADE"), primary_key=True),
    Column("allergen_group_id", ForeignKey("allergen_group.id", ondelete="RESTRICT"), primary_key=True),
)


class AllergenGroup(db.Model):
    """A class of substances a patient can be allergic to (a drug class or an excipient)."""

    __tablename__ = "allergen_group"
    __table_args__ = (
        CheckConstraint(f"length(description) <= {GROUP_DESCRIPTION_MAX}", name="description_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)  # casefolded, spaces collapsed
    description: Mapped[str] = mapped_column(Text, default="")

    ingredients: Mapped[list["Ingredient"]] = relationship(
        secondary=ingredient_allergen_group, back_populates="allergen_groups")


class CrossReactivity(db.Model):
    """Two groups that cross-react. Stored once per pair with the lower id first; the
    relation is symmetric."""

    __tablename__ = "cross_reactivity"
    __table_args__ = (CheckConstraint("group_a_id < group_b_id", name="ordered_pair"),)

    group_a_id: Mapped[int] = mapped_column(ForeignKey("allergen_group.id", ondelete="CASCADE"), primary_key=True)
    group_b_id: Mapped[int] = mapped_column(ForeignKey("allergen_group.id", ondelete="CASCADE"), primary_key=True)
    note: Mapped[str] = mapped_column(Text, default="")


class Ingredient(db.Model):
    """One product as it sits on the shelf."""

    __tablename__ = "ingredient"
    __table_args__ = (
        CheckConstraint(f"category IN {_in(CATEGORIES)}", name="category"),
        CheckConstraint(f"storage IN {_in(STORAGES)}", name="storage"),
        CheckConstraint("unit IN ('mcg','mg','g','mL','IU','U','each')", name="unit"),
        CheckConstraint("reorder_level IS NULL OR reorder_level >= 0", name="reorder_level"),
        CheckConstraint("in_use_days IS NULL OR in_use_days > 0", name="in_use_days"),
        CheckConstraint(f"length(notes) <= {INGREDIENT_NOTES_MAX}", name="notes_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    name_key: Mapped[str] = mapped_column(String(160), unique=True)
    category: Mapped[str] = mapped_column(String(30))
    unit: Mapped[str] = mapped_column(String(8))
    strength_amount: Mapped[Decimal | None] = mapped_column(Quantity, nullable=True)  # per 1 mL
    strength_unit: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reorder_level: Mapped[Decimal | None] = mapped_column(Quantity, nullable=True)
    max_dose_amount: Mapped[Decimal | None] = mapped_column(Quantity, nullable=True)
    max_dose_unit: Mapped[str | None] = mapped_column(String(8), nullable=True)
    storage: Mapped[str] = mapped_column(String(10), default="room")
    multi_dose: Mapped[bool] = mapped_column(Boolean, default=False)
    in_use_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: 28 when multi-dose
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    allergen_groups: Mapped[list[AllergenGroup]] = relationship(
        secondary=ingredient_allergen_group, back_populates="ingredients", order_by="AllergenGroup.name")
    contraindications: Mapped[list["IngredientContraindication"]] = relationship(
        cascade="all, delete-orphan", order_by="IngredientContraindication.condition")
    gtins: Mapped[list["IngredientGtin"]] = relationship(
        cascade="all, delete-orphan", back_populates="ingredient", order_by="IngredientGtin.gtin")
    lots: Mapped[list["Lot"]] = relationship(back_populates="ingredient")


class IngredientContraindication(db.Model):
    """A condition this ingredient is contraindicated in, beyond the general ones (§6)."""

    __tablename__ = "ingredient_contraindication"

    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id", ondelete="CASCADE"), primary_key=True)
    condition: Mapped[str] = mapped_column(String(40), primary_key=True)


class IngredientGtin(db.Model):
    __tablename__ = "ingredient_gtin"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)  # GTIN-14, check digit verified
    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id", ondelete="CASCADE"), index=True)

    ingredient: Mapped[Ingredient] = relationship(back_populates="gtins")


class Lot(db.Model):
    """One received lot of one ingredient. ``on_hand`` always equals the sum of its
    movements (the ledger) and never goes below zero."""

    __tablename__ = "lot"
    __table_args__ = (
        UniqueConstraint("ingredient_id", "lot_number", name="uq_lot_ingredient_lot_number"),
        CheckConstraint("quantity_on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("quantity_received > 0", name="received_positive"),
        CheckConstraint(f"status IN {_in(LOT_STATUSES)}", name="status"),
        CheckConstraint("unit_cost IS NULL OR unit_cost >= 0", name="unit_cost"),
        CheckConstraint(f"length(status_reason) <= {STATUS_REASON_MAX}", name="status_reason_length"),
        Index("ix_lot_ingredient_expiry", "ingredient_id", "expiry_date"),
        # Covers the usable-stock and expiring-lot queries (status, date range) without
        # reading the table: the dashboard's sums over every lot.
        Index("ix_lot_usable", "status", "expiry_date", "ingredient_id", "quantity_on_hand",
              "opened_at"),
        # The lots holding stock, by ingredient (a small part of all lots once most are used
        # up): the lots whose stock is not plainly usable (not available, expired, opened
        # multi-dose vials) are read from here alone, see ``inventory.queries``.
        Index("ix_lot_in_stock", "ingredient_id", "status", "expiry_date", "opened_at",
              "quantity_on_hand", sqlite_where=text("quantity_on_hand > 0"),
              postgresql_where=text("quantity_on_hand > 0")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id"))
    lot_number: Mapped[str] = mapped_column(String(40))
    expiry_date: Mapped[date] = mapped_column(Date, index=True)
    supplier: Mapped[str] = mapped_column(String(120), default="")
    unit_cost: Mapped[Decimal | None] = mapped_column(Money, nullable=True)  # per stock unit
    quantity_received: Mapped[Decimal] = mapped_column(Quantity)
    quantity_on_hand: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[str] = mapped_column(String(12), default="available", index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)

    ingredient: Mapped[Ingredient] = relationship(back_populates="lots")
    movements: Mapped[list["Movement"]] = relationship(back_populates="lot", order_by="Movement.id")


class IngredientStock(db.Model):
    """The quantity on hand of one ingredient: the sum of its lots' on hand, whatever their
    status or dates (so, through the lots, the sum of the ingredient's ledger).

    Kept by ``inventory.totals``: at each commit that changed a lot, the totals of the
    ingredients concerned are recomputed from their lots, their rows locked.
    An ingredient with no row holds nothing. ``inventory.ledger.check_books`` checks it.
    """

    __tablename__ = "ingredient_stock"
    __table_args__ = (CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),)

    ingredient_id: Mapped[int] = mapped_column(
        ForeignKey("ingredient.id", ondelete="CASCADE"), primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(Quantity)


class StockRevision(db.Model):
    """One row (id 1): a new random token at every commit that changed the stock room (a
    lot, its ledger or an ingredient). What is built from the stock and kept between
    requests (``inventory.panel_cache``) is kept for one token only. Written with the
    totals (``inventory.totals``)."""

    __tablename__ = "stock_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WeeklyUsage(db.Model):
    """What batches drew of one ingredient in one week of the clinic (Monday to Sunday in
    its time zone): kept by ``inventory.usage`` in the same transaction as each batch_use
    movement, so the dashboard's usage chart reads 12 rows per ingredient instead of
    summing the ledger. ``quantity_micro`` is in millionths of the ingredient's unit (a
    whole number: added to by the database on both, exactly; quantities hold 6 places)."""

    __tablename__ = "weekly_usage"

    ingredient_id: Mapped[int] = mapped_column(
        ForeignKey("ingredient.id", ondelete="CASCADE"), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    quantity_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    draws: Mapped[int] = mapped_column(Integer, default=0)


class Movement(db.Model):
    """One change of a lot's quantity. Append-only: never updated, never deleted."""

    __tablename__ = "movement"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(MOVEMENT_KINDS)}", name="kind"),
        CheckConstraint("balance_after >= 0", name="balance_not_negative"),
        CheckConstraint("quantity_delta <> 0", name="delta_not_zero"),
        Index("ix_movement_lot_id_id", "lot_id", "id"),
        # The dashboard's usage chart: batch use of recent weeks, read from the index alone.
        Index("ix_movement_kind_at", "kind", "at", "lot_id", "quantity_delta"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # adjustments
    quantity_delta: Mapped[Decimal] = mapped_column(Quantity)
    balance_after: Mapped[Decimal] = mapped_column(Quantity)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"), nullable=True, index=True)

    lot: Mapped[Lot] = relationship(back_populates="movements")
    user = relationship("User")
