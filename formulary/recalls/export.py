"""The worklist of a recall as an Excel workbook (SPEC §12, §8): sheets ``Patients`` (one
row per patient to contact, with where they stand), ``Batches`` and ``Administrations``.
A recall is tens of rows, so the rows are built from the loaded worklist; typed text
(names, MRNs, notes, lot numbers) is written inert by ``reports.workbook``. Statuses are
said in the asker's language, as are the printed title block and page numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from formulary.compounding.state import state_of
from formulary.display import code_word
from formulary.i18n import _, _l
from formulary.recalls.services import Worklist
from formulary.reports.exports import print_options
from formulary.reports.respond import workbook_response
from formulary.reports.services import record_export
from formulary.reports.workbook import Column, Sheet

PATIENT_COLUMNS = (
    Column("MRN", "text", 14),
    Column("Last name", "text", 20),
    Column("First name", "text", 18),
    Column("Date of birth", "date"),
    Column("Status", "label", 13),
    Column("Note", "text", 40),
    Column("Set by", "text", 16),
    Column("Set at", "datetime"),
    Column("How reached", "text", 44),
)

BATCH_COLUMNS = (
    Column("Batch number", "label", 18),
    Column("Prepared at", "datetime"),
    Column("Cocktail", "text", 28),
    Column("Patient MRN", "text", 14),
    Column("Doses", "int"),
    Column("Doses left", "int"),
    Column("State", "label", 13),
)

ADMINISTRATION_COLUMNS = (
    Column("Given at", "datetime"),
    Column("Patient MRN", "text", 14),
    Column("Batch number", "label", 18),
    Column("Doses", "int"),
    Column("Given by", "text", 16),
    Column("Sites", "text", 36),
)


def _patients(wl: Worklist) -> Iterator[tuple]:
    for p in wl.patients:
        yield (p.patient.mrn, p.patient.last_name, p.patient.first_name, p.patient.date_of_birth,
               code_word(p.row.status), p.row.note,
               p.row.set_by.username if p.row.set_by else None, p.row.set_at, p.how_reached)


def _batches(wl: Worklist, now: datetime) -> Iterator[tuple]:
    for b in wl.batches:
        state = state_of(b, now)
        yield (b.batch_number, b.prepared_at, b.cocktail.name,
               b.patient.mrn if b.patient else None, b.doses, state.doses_left,
               code_word(state.state))


def _administrations(wl: Worklist) -> Iterator[tuple]:
    mrn = {p.patient.id: p.patient.mrn for p in wl.patients}
    for a in wl.administrations:
        yield (a.given_at, mrn.get(a.patient_id), a.batch.batch_number, a.doses,
               a.given_by.username if a.given_by else None, a.sites)


def worklist_sheets(wl: Worklist, now: datetime) -> list[Sheet]:
    return [Sheet("Patients", PATIENT_COLUMNS, _patients(wl)),
            Sheet("Batches", BATCH_COLUMNS, _batches(wl, now)),
            Sheet("Administrations", ADMINISTRATION_COLUMNS, _administrations(wl))]


def filename(wl: Worklist) -> str:
    return f"recall-{wl.recall.id}-worklist.xlsx"


def send_worklist(session, wl: Worklist, actor, now: datetime, tz):
    """Shared by the page and the API: audit the export, then send the workbook (with the
    audit chain's head in its footer, as every export)."""
    options = print_options(_l("Recall worklist"), _(
        "Recall #%(id)s: lot %(lot)s (%(ingredient)s)", id=wl.recall.id,
        lot=wl.recall.lot.lot_number, ingredient=wl.recall.lot.ingredient.name), actor)
    record_export(session, actor, "recall_worklist",
                  f"Worklist of recall #{wl.recall.id} (lot {wl.recall.lot.lot_number})",
                  {"recall_id": wl.recall.id, "patients": [p.patient.id for p in wl.patients]})
    return workbook_response(worklist_sheets(wl, now), filename(wl), tz, **options)
