"""Patients, their conditions and allergies (SPEC §6)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formulary.db import UTCDateTime, utcnow
from formulary.domain.text import search_key
from formulary.extensions import db

ALLERGY_STATUSES = ("unknown", "none_known", "known")   # the patient's assessment
SEVERITIES = ("mild", "moderate", "severe", "anaphylaxis")
ALLERGY_RECORD_STATUSES = ("active", "inactive", "refuted")
#: The longest notes a patient record keeps (the service, the form and a CHECK agree).
NOTES_MAX = 2000


SEARCH_TEXT_MAX = 600


def search_text(mrn, first_name, last_name, date_of_birth) -> str:
    """What a patient is found by (``patients.services.search_statement``): last name,
    first name, MRN and date of birth (ISO), each by ``domain.text.search_key`` (case and
    accents dropped), separated by one space. Last name first: the list is ordered by it."""
    born = date_of_birth.isoformat() if isinstance(date_of_birth, date) else (date_of_birth or "")
    # Folding can lengthen a name many times (NFKD of U+FDFA is 18 letters): each part is
    # cut (names 250, MRN 80 characters), so the whole stays within SEARCH_TEXT_MAX, which
    # a btree index entry holds in any script.
    parts = [search_key(str(v or ""))[:cut] for v, cut in
             ((last_name, 250), (first_name, 250), (mrn, 80), (born, 10))]
    return " ".join(parts).strip()


def _search_default(context) -> str:
    """Column default of ``Patient.search_text`` for a Core insert (bulk loads): the
    ORM sets it itself (``_keep_search_text``)."""
    p = context.get_current_parameters()
    return search_text(p.get("mrn"), p.get("first_name"), p.get("last_name"),
                       p.get("date_of_birth"))


class Patient(db.Model):
    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint("allergy_status IN ('unknown','none_known','known')", name="allergy_status"),
        CheckConstraint(f"length(notes) <= {NOTES_MAX}", name="notes_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)  # medical record number
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    allergy_status: Mapped[str] = mapped_column(String(12), default="unknown")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Kept on every write (below); indexed for substring search: a trigram GIN index on
    # PostgreSQL, an FTS5 trigram table on SQLite (``patients.search``); the btree index
    # serves the list's order.
    search_text: Mapped[str] = mapped_column(String(600), default=_search_default,
                                             server_default="", index=True)

    conditions: Mapped[list["PatientCondition"]] = relationship(
        cascade="all, delete-orphan", order_by="PatientCondition.condition")
    allergies: Mapped[list["Allergy"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Allergy.id")


# The batch list sorted by a patient's name or MRN walks these
# (compounding.queries.batch_list_page).
Index("ix_patient_name_order", func.lower(Patient.last_name), func.lower(Patient.first_name))
Index("ix_patient_mrn_order", func.lower(Patient.mrn))


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _keep_search_text(_mapper, _connection, patient: Patient) -> None:
    patient.search_text = search_text(patient.mrn, patient.first_name, patient.last_name,
                                      patient.date_of_birth)


class PatientCondition(db.Model):
    __tablename__ = "patient_condition"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    condition: Mapped[str] = mapped_column(String(40), primary_key=True)


class Allergy(db.Model):
    """An allergy to an ingredient, to an allergen group, or free text matching neither."""

    __tablename__ = "allergy"
    __table_args__ = (
        CheckConstraint("severity IN ('mild','moderate','severe','anaphylaxis')", name="severity"),
        CheckConstraint("status IN ('active','inactive','refuted')", name="status"),
        CheckConstraint(
            "(CASE WHEN ingredient_id IS NULL THEN 0 ELSE 1 END) + "
            "(CASE WHEN allergen_group_id IS NULL THEN 0 ELSE 1 END) + "
            "(CASE WHEN substance IS NULL THEN 0 ELSE 1 END) = 1", name="exactly_one_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    ingredient_id: Mapped[int | None] = mapped_column(ForeignKey("ingredient.id"), nullable=True)
    allergen_group_id: Mapped[int | None] = mapped_column(ForeignKey("allergen_group.id"), nullable=True)
    substance: Mapped[str | None] = mapped_column(String(200), nullable=True)
    severity: Mapped[str] = mapped_column(String(12))
    reaction: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default="active")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="allergies")
    ingredient = relationship("Ingredient")
    allergen_group = relationship("AllergenGroup")


from formulary.patients import search as _search  # noqa: E402,F401  (its DDL on create_all)
