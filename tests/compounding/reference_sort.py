"""The batch list's orders as they were written first (``queries.BATCH_SORT`` before
6 December): each name through a correlated subquery, so it applies to any statement over
``batch`` (the ORM's ``batches_query`` too). Slow at a year's scale, plainly right: the
reference the list's own orders and pages are held to."""

from __future__ import annotations

from sqlalchemy import func, select

from formulary.cocktails.models import Cocktail
from formulary.compounding.models import Batch
from formulary.listing import SortColumns
from formulary.patients.models import Patient


def _patient_column(column):
    return select(column).where(Patient.id == Batch.patient_id).correlate(Batch).scalar_subquery()


REFERENCE_SORT = SortColumns(
    columns={"prepared": Batch.prepared_at, "number": Batch.batch_number,
             "cocktail": select(Cocktail.name_key).where(Cocktail.id == Batch.cocktail_id)
             .correlate(Batch).scalar_subquery(),
             "doses": Batch.doses,
             "patient": (_patient_column(func.lower(Patient.last_name)),
                         _patient_column(func.lower(Patient.first_name))),
             "mrn": _patient_column(func.lower(Patient.mrn)),
             "beyond_use": Batch.beyond_use_at, "status": Batch.status},
    default="-prepared", tiebreak=(Batch.id,))
