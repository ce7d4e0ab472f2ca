"""The recall response (SPEC §12): opening a recall when a lot is recalled, the worklist
of the patients it reached, and setting where each patient stands.

Opening is part of the lot's recall (``inventory.lots.set_lot_status`` calls
:func:`open_recall` in its transaction, after locking the lot and setting its status), so
a lot is never recalled without its recall, nor a recall left without its lot.

Concurrency (PostgreSQL, READ COMMITTED). One lock order: the batches already made from
the lot (ascending id, ``compounding.tally.lock_batches_of_lots``, as every change of a
lot's status does), then the lot, then every batch that used it in ascending id (one
made meanwhile included). A preparation locks the lot (``ledger.lock_lots``) before it picks, so a
preparation racing the recall either committed before the recall got the lot's lock (its
batch is then read by the recall's next statement and joins the recall) or waits for the
recall to commit and then reads the lot as recalled (it is not picked; nothing is taken
from it). An administration locks its batch row: the recall's lock on the batches makes a
racing administration either commit first (and be read) or wait and then find the batch
on hold (refused). (The foreign keys back this up: inserting the recall's batch rows
takes a key-share lock on each batch, and an administration's lines one on the lot.) On
SQLite every writer queues (``BEGIN IMMEDIATE``).

A patient's status change locks the recall row first, so two people working the same
worklist never both miss the last ``to_contact`` and leave a finished recall open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, and_, bindparam, case, func, select
from sqlalchemy.orm import Session, joinedload

from formulary.audit.services import record
from formulary.compounding.models import Batch, BatchLine
from formulary.compounding.queries import batch_options
from formulary.courses.models import Administration
from formulary.db import utcnow
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.domain.recalls import PATIENT_STATUSES, recall_status, status_change
from formulary.domain.text import check_text
from formulary.inventory.models import Lot
from formulary.inventory.sums import chunked
from formulary.patients.models import Patient
from formulary.recalls.models import Recall, RecallBatch, RecallPatient

NOTE_MAX = 1000


# --- opening -----------------------------------------------------------------------------

def _lock_batches(session: Session, batch_ids: list[int]) -> list[Batch]:
    """Lock the batches (``FOR UPDATE``, ascending id: the order every writer keeps)."""
    batches: list[Batch] = []
    for chunk in chunked(batch_ids):
        batches.extend(session.execute(
            select(Batch).where(Batch.id.in_(chunk)).order_by(Batch.id).with_for_update()
            .execution_options(populate_existing=True)).scalars())
    return batches


def _administrations_of(session: Session, batch_ids: list[int]) -> list[tuple[int, int, int]]:
    """``(administration id, batch id, patient id)`` of every administration of the batches."""
    rows: list[tuple[int, int, int]] = []
    for chunk in chunked(batch_ids):
        rows.extend(session.execute(
            select(Administration.id, Administration.batch_id, Administration.patient_id)
            .where(Administration.batch_id.in_(chunk))).all())
    return sorted(rows)


def open_recall(session: Session, actor, lot: Lot, *, reason: str,
                at: datetime | None = None) -> Recall:
    """Open the recall of ``lot``, which the caller has locked and just set ``recalled``
    (same transaction): every batch that used it (locked), every administration of those
    batches and every patient they reached (the batch's patient and each administration's),
    each ``to_contact``. Audited (``recall.open``)."""
    at = at or utcnow()
    batch_ids = sorted(set(session.execute(
        select(BatchLine.batch_id).where(BatchLine.lot_id == lot.id)).scalars()))
    batches = _lock_batches(session, batch_ids)
    administrations = _administrations_of(session, batch_ids)
    patient_ids = sorted({b.patient_id for b in batches if b.patient_id is not None}
                         | {patient_id for _, _, patient_id in administrations})
    status = recall_status(["to_contact"] * len(patient_ids))
    recall = Recall(lot_id=lot.id, reason=reason, opened_at=at,
                    opened_by_id=getattr(actor, "id", None), status=status,
                    closed_at=at if status == "closed" else None)
    session.add(recall)
    session.flush()
    session.add_all([RecallBatch(recall_id=recall.id, batch_id=b.id) for b in batches])
    session.add_all([RecallPatient(recall_id=recall.id, patient_id=p, status="to_contact")
                     for p in patient_ids])
    session.flush()
    record(session, actor, "recall.open", "recall", recall.id,
           summary=f"Opened the recall of lot {lot.lot_number}: {len(batches)} batch(es), "
                   f"{len(administrations)} administration(s), {len(patient_ids)} patient(s)",
           after={"lot_id": lot.id, "batches": [b.id for b in batches],
                  "administrations": [a for a, _, _ in administrations],
                  "patients": patient_ids, "status": status},
           reason=reason)
    return recall


# --- the worklist ---------------------------------------------------------------------------

def check_status(value) -> str:
    if not isinstance(value, str) or value not in PATIENT_STATUSES:
        raise ValidationError(msg("Choose a status: %(choices)s.",
                                  choices=", ".join(PATIENT_STATUSES)),
                              field="status")
    return value


def worklist_entry(session: Session, recall_id, patient_id) -> RecallPatient:
    """The patient's row on the recall's worklist; 404 when either is unknown."""
    if session.get(Recall, recall_id) is None:
        raise NotFound("No such recall.")
    row = session.execute(select(RecallPatient).where(
        RecallPatient.recall_id == recall_id, RecallPatient.patient_id == patient_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(msg("Patient #%(patient_id)s is not on the worklist of recall "
                           "#%(recall_id)s.",
                           patient_id=patient_id, recall_id=recall_id))
    return row


def _lock_recall(session: Session, recall_id) -> Recall:
    recall = session.execute(
        select(Recall).where(Recall.id == recall_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if recall is None:
        raise NotFound("No such recall.")
    return recall


def set_patient_status(session: Session, actor, recall_id: int, patient_id: int, *, status,
                       note=None, at: datetime | None = None) -> RecallPatient:
    """Set where a patient of a recall's worklist stands, with an optional note (kept as
    it was when none is given). The recall closes when no patient is left ``to_contact``
    and opens again when one is set back. Audited (``recall.patient_status``, and
    ``recall.close`` / ``recall.reopen`` when it changes the recall). An unknown recall,
    or a patient not on its worklist, is 404 before the values are looked at."""
    worklist_entry(session, recall_id, patient_id)
    problems: dict[str, list[str]] = {}
    try:
        status = check_status(status)
    except ValidationError as exc:
        problems.update(exc.fields)
    text = None
    if note is not None:
        try:
            text = check_text(note, "note", msg("Note"), max_length=NOTE_MAX, multiline=True)
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError(next(iter(problems.values()))[0], fields=problems)
    at = at or utcnow()
    recall = _lock_recall(session, recall_id)
    row = session.execute(
        select(RecallPatient).options(joinedload(RecallPatient.patient))
        .where(RecallPatient.recall_id == recall.id, RecallPatient.patient_id == patient_id)
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise NotFound(msg("Patient #%(patient_id)s is not on the worklist of recall "
                           "#%(recall_id)s.",
                           patient_id=patient_id, recall_id=recall.id))
    before = {"status": row.status, "note": row.note}
    row.status = status
    if text is not None:
        row.note = text
    row.set_by_id = getattr(actor, "id", None)
    row.set_at = at
    session.flush()
    statuses = session.execute(select(RecallPatient.status)
                               .where(RecallPatient.recall_id == recall.id)).scalars().all()
    was = recall.status
    recall.status = recall_status(statuses)
    change = status_change(was, recall.status)
    if change == "closed":
        recall.closed_at = at
    elif change == "reopened":
        recall.closed_at = None
    session.flush()
    mrn = row.patient.mrn
    record(session, actor, "recall.patient_status", "recall", recall.id,
           summary=f"Recall #{recall.id}: patient {mrn} {status.replace('_', ' ')}",
           before=before, after={"patient_id": patient_id, "status": row.status, "note": row.note},
           reason=row.note or None)
    if change is not None:
        record(session, actor, "recall.close" if change == "closed" else "recall.reopen",
               "recall", recall.id,
               summary=f"Recall #{recall.id} {change}: "
                       + ("no patient left to contact" if change == "closed"
                          else f"patient {mrn} set back to contact"),
               before={"status": was}, after={"status": recall.status})
    return row


# --- reading -------------------------------------------------------------------------------

def get_recall(session: Session, recall_id: int) -> Recall:
    recall = session.execute(
        select(Recall).options(joinedload(Recall.lot).joinedload(Lot.ingredient),
                               joinedload(Recall.opened_by))
        .where(Recall.id == recall_id)).scalar_one_or_none()
    if recall is None:
        raise NotFound("No such recall.")
    return recall


@dataclass
class WorklistPatient:
    row: RecallPatient
    patient: Patient
    batches: list[Batch] = field(default_factory=list)            # made for them
    administrations: list[Administration] = field(default_factory=list)

    @property
    def how_reached(self) -> str:
        if self.administrations:
            given = ", ".join(f"{a.batch.batch_number} ({a.doses} dose{'s' if a.doses != 1 else ''})"
                              for a in self.administrations)
            return f"given {given}"
        return ("batch made for them, not given: "
                + ", ".join(b.batch_number for b in self.batches))


@dataclass
class Worklist:
    recall: Recall
    batches: list[Batch]
    administrations: list[Administration]
    patients: list[WorklistPatient]

    @property
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in PATIENT_STATUSES}
        for p in self.patients:
            out[p.row.status] += 1
        return out


def worklist(session: Session, recall: Recall) -> Worklist:
    """A recall with its batches (and their state), administrations and patients, in a
    constant number of statements."""
    batch_ids = list(session.execute(select(RecallBatch.batch_id)
                                     .where(RecallBatch.recall_id == recall.id)).scalars())
    batches = list(session.execute(
        select(Batch).options(*batch_options()).where(
            Batch.id.in_(select(RecallBatch.batch_id).where(RecallBatch.recall_id == recall.id)))
        .order_by(Batch.prepared_at, Batch.id)).unique().scalars()) if batch_ids else []
    administrations = list(session.execute(
        select(Administration).options(joinedload(Administration.batch),
                                       joinedload(Administration.given_by))
        .where(Administration.batch_id.in_(
            select(RecallBatch.batch_id).where(RecallBatch.recall_id == recall.id)))
        .order_by(Administration.given_at, Administration.id)).scalars()) if batch_ids else []
    rows = list(session.execute(
        select(RecallPatient).options(joinedload(RecallPatient.patient),
                                      joinedload(RecallPatient.set_by))
        .where(RecallPatient.recall_id == recall.id)).scalars())
    rows.sort(key=lambda r: (r.status != "to_contact", r.patient.last_name.casefold(),
                             r.patient.first_name.casefold(), r.patient_id))
    out = []
    for r in rows:
        out.append(WorklistPatient(
            row=r, patient=r.patient,
            batches=[b for b in batches if b.patient_id == r.patient_id],
            administrations=[a for a in administrations if a.patient_id == r.patient_id]))
    return Worklist(recall=recall, batches=batches, administrations=administrations,
                    patients=out)


def recalls_statement(*, status: str | None = None, lot_id: int | None = None,
                      patient_id: int | None = None, batch_id: int | None = None):
    """Recalls, open ones first, then the newest."""
    stmt = (select(Recall).options(joinedload(Recall.lot).joinedload(Lot.ingredient),
                                   joinedload(Recall.opened_by))
            .order_by(case((Recall.status == "open", 0), else_=1), Recall.opened_at.desc(),
                      Recall.id.desc()))
    if status is not None:
        if status not in ("open", "closed"):
            raise ValidationError("Choose a status: open, closed.", field="status")
        stmt = stmt.where(Recall.status == status)
    if lot_id is not None:
        stmt = stmt.where(Recall.lot_id == lot_id)
    if patient_id is not None:
        stmt = stmt.where(Recall.id.in_(select(RecallPatient.recall_id)
                                        .where(RecallPatient.patient_id == patient_id)))
    if batch_id is not None:
        stmt = stmt.where(Recall.id.in_(select(RecallBatch.recall_id)
                                        .where(RecallBatch.batch_id == batch_id)))
    return stmt


def counts_of(session: Session, recall_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per recall: ``batches``, ``patients`` and the patients in each status (two
    statements whatever the number of recalls)."""
    out = {rid: {"batches": 0, "patients": 0, **{s: 0 for s in PATIENT_STATUSES}}
           for rid in recall_ids}
    if not recall_ids:
        return out
    for rid, status, n in session.execute(
            select(RecallPatient.recall_id, RecallPatient.status, func.count())
            .where(RecallPatient.recall_id.in_(recall_ids))
            .group_by(RecallPatient.recall_id, RecallPatient.status)):
        out[rid][status] = n
        out[rid]["patients"] += n
    for rid, n in session.execute(
            select(RecallBatch.recall_id, func.count())
            .where(RecallBatch.recall_id.in_(recall_ids)).group_by(RecallBatch.recall_id)):
        out[rid]["batches"] = n
    return out


def recall_of_lot(session: Session, lot_id: int) -> Recall | None:
    return session.execute(select(Recall).where(Recall.lot_id == lot_id)).scalar_one_or_none()


def recalls_of_batch(session: Session, batch_id: int) -> list[Recall]:
    return list(session.execute(recalls_statement(batch_id=batch_id)).unique().scalars())


def recalls_of_patient(session: Session, patient_id: int) -> list[tuple[Recall, RecallPatient]]:
    return list(session.execute(
        select(Recall, RecallPatient)
        .join(RecallPatient, and_(RecallPatient.recall_id == Recall.id,
                                  RecallPatient.patient_id == patient_id))
        .options(joinedload(Recall.lot).joinedload(Lot.ingredient))
        .order_by(Recall.opened_at.desc(), Recall.id.desc())).all())


def open_recall_summaries(session: Session, limit: int = 20) -> tuple[int, list[Recall]]:
    """The open recalls (how many, and the first ``limit`` of them), for the dashboard:
    its statements built once (``limit`` bound at execution), since building them cost
    more on every view than running them; the first ones not read when none is open."""
    if not _OPEN_RECALLS:
        _OPEN_RECALLS.update(
            count=select(func.count()).select_from(Recall).where(Recall.status == "open"),
            first=recalls_statement(status="open").limit(bindparam("limit", type_=Integer)))
    total = session.execute(_OPEN_RECALLS["count"]).scalar_one()
    if not total:  # most views: no recall open, nothing more to read
        return 0, []
    rows = list(session.execute(_OPEN_RECALLS["first"], {"limit": limit}).unique().scalars())
    return total, rows


_OPEN_RECALLS: dict[str, object] = {}


def record_worklist_view(session: Session, actor, wl: Worklist, *, via: str) -> None:
    """A worklist shows patients: each patient's view is audited as a read of their data
    (``patient.view``, as the patient record is)."""
    for p in wl.patients:
        record(session, actor, "patient.view", "patient", p.patient.id,
               summary=f"Viewed patient {p.patient.mrn} on the worklist of recall "
                       f"#{wl.recall.id} ({via})")
