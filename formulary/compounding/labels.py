"""What a batch is printed as: the QR code of its number on the label, and the recall
list of a lot as an Excel workbook."""

from __future__ import annotations

import io
from datetime import tzinfo

import segno
from markupsafe import Markup

from formulary.domain.batch_state import held_lots_words
from formulary.domain.messages import msg
from formulary.reports.workbook import Column, Sheet, write_workbook


def do_not_use(state) -> str | None:
    """What the label of a batch in ``state`` (``domain.batch_state.BatchState``) must
    print across it, or None when the batch may be used: "DO NOT USE" and why (a Message:
    the label's page says it in the reader's language)."""
    if state.state == "discarded":
        return msg("DO NOT USE — discarded.")
    if state.state == "on_hold":
        return msg("DO NOT USE — On hold: %(lots)s.", lots=held_lots_words(state.held_lots))
    if state.state == "expired":
        return msg("DO NOT USE — Past its beyond-use date.")
    return None


def qr_svg(text: str, scale: int = 3) -> Markup:
    """The QR code of ``text`` as inline SVG (no external request, prints sharp)."""
    qr = segno.make(text, error="m", micro=False)
    return Markup(qr.svg_inline(scale=scale, border=2, title=text))


TRACE_BATCH_COLUMNS = (
    Column("Batch number", "label", 18), Column("Prepared at", "datetime"),
    Column("Cocktail", "text", 28), Column("Version", "int"), Column("Doses", "int"),
    Column("Status", "label", words=True), Column("Patient MRN", "text", 16), Column("Patient", "text", 28),
    Column("Quantity from lot", "decimal", 16), Column("Unit", "label", 8),
    Column("Beyond-use", "datetime"), Column("Prepared by", "text", 20),
)
TRACE_PATIENT_COLUMNS = (
    Column("MRN", "text", 16), Column("Last name", "text"), Column("First name", "text"),
    Column("Date of birth", "date"),
)


TRACE_ADMINISTRATION_COLUMNS = (
    Column("Given at", "datetime"), Column("Patient MRN", "text", 16),
    Column("Patient", "text", 28), Column("Practitioner", "text", 18),
    Column("Batch number", "label", 18), Column("Doses", "int"),
    Column("Quantity from lot", "decimal", 16), Column("Unit", "label", 8),
    Column("Sites", "text", 36), Column("Technique", "label", 14), Column("Course", "int"),
    Column("Session", "int"),
)


def trace_workbook(trace, tz: tzinfo, *, administrations: bool = True, **options) -> bytes:
    """The recall list of a lot as the bytes of a workbook (:func:`trace_sheets`).
    ``options``: more of ``write_workbook``'s (``footer``, ``title``, ``currency``)."""
    out = io.BytesIO()
    write_workbook(trace_sheets(trace, administrations=administrations), out, tz=tz,
                   **options)
    return out.getvalue()


def trace_sheets(trace, *, administrations: bool = True) -> list[Sheet]:
    """The recall list of a lot: sheet ``Batches`` (one row per batch that used it, with
    the quantity taken from the lot), ``Patients`` (every patient reached) and, when
    ``administrations`` (a role that reads courses), ``Administrations``: every dose given
    from those batches, with the patient, date, practitioner and sites (SPEC §7)."""
    def batch_rows():
        for b in trace.batches:
            lines = trace.taken[b.id]
            quantity = sum(line.quantity for line in lines) if lines else None
            yield (b.batch_number, b.prepared_at, b.cocktail.name, b.version.number, b.doses,
                   b.status, b.patient.mrn if b.patient else None,
                   f"{b.patient.last_name}, {b.patient.first_name}" if b.patient else None,
                   quantity, lines[0].unit if lines else None, b.beyond_use_at,
                   b.prepared_by.display_name)

    def patient_rows():
        for p in trace.patients:
            yield (p.mrn, p.last_name, p.first_name, p.date_of_birth)

    def administration_rows():
        for a in trace.administrations:
            yield (a.given_at, a.patient.mrn, f"{a.patient.last_name}, {a.patient.first_name}",
                   a.practitioner, a.batch_number, a.doses, a.quantity, a.unit, a.sites,
                   a.technique, a.course_id, a.session_number)

    sheets = [Sheet("Batches", TRACE_BATCH_COLUMNS, batch_rows()),
              Sheet("Patients", TRACE_PATIENT_COLUMNS, patient_rows())]
    if administrations:
        sheets.append(Sheet("Administrations", TRACE_ADMINISTRATION_COLUMNS,
                            administration_rows()))
    return sheets
