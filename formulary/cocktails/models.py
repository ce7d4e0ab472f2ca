"""Cocktails and their versions (SPEC §5).

A cocktail has versions; version 1 starts as a draft. Approving a draft makes it the
active version (the previous active one becomes ``superseded``). An approved version
never changes: its components are frozen. Batches name the exact version.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event,
                        inspect)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import Quantity, UTCDateTime, utcnow
from formulary.domain.errors import InvalidState
from formulary.extensions import db

AREAS = ("scalp", "face", "neck", "body", "hands")
COCKTAIL_STATUSES = ("draft", "active", "retired")
VERSION_STATUSES = ("draft", "active", "superseded", "retired")
#: The longest notes of a version (the service, the form and a CHECK agree).
NOTES_MAX = 2000


class Cocktail(db.Model):
    __tablename__ = "cocktail"
    __table_args__ = (
        CheckConstraint("status IN ('draft','active','retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    name_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    # No database foreign key here: it would make a cycle with cocktail_version.cocktail_id
    # that SQLite cannot build by ALTER. The services set it only to a version of this
    # cocktail, and the relationship below names the join.
    active_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)

    versions: Mapped[list["CocktailVersion"]] = relationship(
        back_populates="cocktail", foreign_keys="CocktailVersion.cocktail_id",
        order_by="CocktailVersion.number")
    active_version: Mapped["CocktailVersion | None"] = relationship(
        primaryjoin="foreign(Cocktail.active_version_id) == CocktailVersion.id",
        post_update=True)


class CocktailVersion(db.Model):
    __tablename__ = "cocktail_version"
    __table_args__ = (
        UniqueConstraint("cocktail_id", "number", name="uq_cocktail_version_number"),
        CheckConstraint("status IN ('draft','active','superseded','retired')", name="status"),
        CheckConstraint(f"length(notes) <= {NOTES_MAX}", name="notes_length"),
        CheckConstraint("area IN ('scalp','face','neck','body','hands')", name="area"),
        CheckConstraint("storage IN ('room','fridge')", name="storage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cocktail_id: Mapped[int] = mapped_column(ForeignKey("cocktail.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    area: Mapped[str] = mapped_column(String(10))
    indication: Mapped[str] = mapped_column(String(200), default="")
    storage: Mapped[str] = mapped_column(String(10), default="fridge")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)

    cocktail: Mapped[Cocktail] = relationship(back_populates="versions", foreign_keys=[cocktail_id])
    components: Mapped[list["Component"]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="Component.position")
    created_by = relationship("User", foreign_keys=[created_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])


class Component(db.Model):
    """One ingredient of a version, with its amount per dose as the pharmacist gave it and
    the stock quantity per dose it converts to (in the ingredient's stock unit)."""

    __tablename__ = "component"
    __table_args__ = (
        UniqueConstraint("version_id", "ingredient_id", name="uq_component_version_ingredient"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("stock_quantity > 0", name="stock_quantity_positive"),
        # The safety screen's reading of the formulary: each version's ingredient ids in
        # component order, from the index alone (``patients.screen_snapshot``).
        Index("ix_component_version_order", "version_id", "position", "id", "ingredient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("cocktail_version.id", ondelete="CASCADE"), index=True)
    ingredient_id: Mapped[int] = mapped_column(ForeignKey("ingredient.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(8))
    stock_quantity: Mapped[Decimal] = mapped_column(Quantity)
    stock_unit: Mapped[str] = mapped_column(String(8))

    version: Mapped[CocktailVersion] = relationship(back_populates="components")
    ingredient = relationship("Ingredient")


# --- an approved version never changes ------------------------------------------------
# The services refuse every change to an approved version; these mapper hooks are the
# backstop below them, so that no code path (a new service, a script, a careless view)
# can alter one in the database either. Only its status may move on (active ->
# superseded or retired).

FROZEN_MESSAGE = "An approved version of a cocktail never changes; edit the cocktail to make a new draft version."
_VERSION_MUTABLE_AFTER_APPROVAL = {"status"}


def _committed(obj, attr: str):
    history = inspect(obj).attrs[attr].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else None


def version_is_frozen(version: CocktailVersion | None) -> bool:
    """True when the version was approved before the current flush."""
    return version is not None and _committed(version, "approved_at") is not None


@event.listens_for(CocktailVersion, "before_update")
def _refuse_version_change(_mapper, _connection, version: CocktailVersion) -> None:
    if not version_is_frozen(version):
        return
    state = inspect(version)
    changed = {a.key for a in state.attrs if a.key not in ("cocktail", "components",
                                                          "created_by", "approved_by")
               and a.history.has_changes()}
    if changed - _VERSION_MUTABLE_AFTER_APPROVAL:
        raise InvalidState(FROZEN_MESSAGE)


def _component_version(component: Component) -> CocktailVersion | None:
    if component.version is not None:
        return component.version
    return _committed(component, "version")


@event.listens_for(Component, "before_insert")
@event.listens_for(Component, "before_update")
@event.listens_for(Component, "before_delete")
def _refuse_component_change(_mapper, _connection, component: Component) -> None:
    if version_is_frozen(_component_version(component)):
        raise InvalidState(FROZEN_MESSAGE)


# The formulary revision's table (and its triggers) belong with the formulary's models.
from formulary.cocktails.revision import FormularyRevision  # noqa: E402,F401
