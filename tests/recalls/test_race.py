"""A recall racing a preparation or an administration (SPEC §12, PostgreSQL, READ
COMMITTED): a batch prepared, or an administration given, while the lot is being recalled
is either in the recall or refused; never outside it.

Each race is forced in both orders, not left to chance: one transaction does its work and
holds its locks uncommitted; the other starts in another thread and connection, and is seen
waiting on a lock (``pg_stat_activity``) before the first commits. On SQLite every writer
takes the write lock first (``BEGIN IMMEDIATE``), so there is no interleaving to force.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from formulary import clock
from formulary.auth.models import User
from formulary.cocktails.models import Cocktail
from formulary.compounding import services as batch_services
from formulary.compounding.models import Batch, BatchLine
from formulary.courses import administrations
from formulary.courses.models import Administration, CourseSession
from formulary.domain.errors import Conflict, InsufficientStock
from formulary.extensions import db
from formulary.inventory import lots as lot_services
from formulary.inventory.models import Lot
from formulary.patients.models import Patient
from formulary.recalls.models import Recall, RecallBatch, RecallPatient

pytestmark = pytest.mark.timeout(120)
WAIT = 30


@pytest.fixture(autouse=True)
def _postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no interleaving to force")


def _waiting_on_a_lock() -> bool:
    with db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one() > 0


def race(app, first, second) -> tuple[object, object]:
    """``first(session)`` runs and flushes, holding its locks; then ``second(session)``
    starts in another thread and is seen waiting on a lock; then ``first`` commits. Answers
    what each returned (or the exception it raised)."""
    held, release = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def run(name, work, before=None, after=None):
        with app.app_context():
            try:
                if before is not None:
                    before.wait(WAIT)
                out[name] = work(db.session)
                if after is not None:
                    after.set()
                    release.wait(WAIT)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the caller asserts on it
                db.session.rollback()
                out[name] = exc
                if after is not None:
                    after.set()
            finally:
                db.session.remove()

    a = threading.Thread(target=run, args=("first", first), kwargs={"after": held}, daemon=True)
    a.start()
    assert held.wait(WAIT), "the first transaction never got its locks"
    assert not isinstance(out.get("first"), Exception), out.get("first")
    b = threading.Thread(target=run, args=("second", second), daemon=True)
    b.start()
    deadline = time.monotonic() + WAIT
    while not _waiting_on_a_lock():
        assert time.monotonic() < deadline, "the second transaction never waited on a lock"
        assert b.is_alive(), f"the second transaction did not wait: {out.get('second')!r}"
        time.sleep(0.02)
    release.set()
    a.join(WAIT)
    b.join(WAIT)
    assert not a.is_alive() and not b.is_alive()
    db.session.expire_all()
    return out["first"], out["second"]


def recall(lot_id):
    def work(session):
        user = session.execute(select(User).where(User.role == "pharmacist").order_by(User.id)).scalars().first()
        return lot_services.set_lot_status(session, user, session.get(Lot, lot_id),
                                           status="recalled", reason="supplier recall").id
    return work


def prepare(app, cocktail_id, patient_id=None):
    def work(session):
        user = session.execute(select(User).where(User.role == "pharmacist").order_by(User.id)).scalars().first()
        batch = batch_services.prepare_batch(
            session, user, cocktail=session.get(Cocktail, cocktail_id), doses=1,
            patient=session.get(Patient, patient_id) if patient_id else None, tz=clock.clinic_tz(),
            policy=batch_services.policy_from_hours(app.config["BEYOND_USE_HOURS"]))
        return batch.id
    return work


def give(session_id, batch_id):
    def work(session):
        user = session.execute(select(User).where(User.role == "practitioner")).scalars().first()
        adm = administrations.give(session, user, session.get(CourseSession, session_id),
                                   batch_id=batch_id, doses=1, sites="crown", technique="nappage")
        return adm.id
    return work


def assert_nothing_outside_the_recall(lot_id):
    """Every batch that used the lot is in its recall, and every patient reached (batch
    patient, administrations) is on its worklist."""
    db.session.expire_all()
    recall = db.session.execute(select(Recall).where(Recall.lot_id == lot_id)).scalar_one()
    used = set(db.session.execute(select(BatchLine.batch_id).where(BatchLine.lot_id == lot_id)).scalars())
    listed = set(db.session.execute(select(RecallBatch.batch_id)
                                    .where(RecallBatch.recall_id == recall.id)).scalars())
    assert used == listed
    reached = set(db.session.execute(select(Batch.patient_id).where(
        Batch.id.in_(used), Batch.patient_id.is_not(None))).scalars())
    reached |= set(db.session.execute(select(Administration.patient_id).where(
        Administration.batch_id.in_(used))).scalars())
    on_list = set(db.session.execute(select(RecallPatient.patient_id)
                                     .where(RecallPatient.recall_id == recall.id)).scalars())
    assert reached == on_list
    return recall


def test_a_preparation_that_took_the_lot_first_joins_the_recall(app, clinic):
    lot_id = clinic["lido_lot"].id
    prepared, recalled = race(app, prepare(app, clinic["cocktail"].id, clinic["patient"].id),
                              recall(lot_id))
    assert isinstance(prepared, int) and isinstance(recalled, int), (prepared, recalled)
    assert_nothing_outside_the_recall(lot_id)
    assert db.session.execute(select(RecallBatch.batch_id)).scalars().all() == [prepared]


def test_a_preparation_waiting_for_the_recall_is_refused(app, clinic):
    lot_id = clinic["lido_lot"].id      # the only lot of lidocaine
    on_hand = clinic["lido_lot"].quantity_on_hand
    recalled, prepared = race(app, recall(lot_id), prepare(app, clinic["cocktail"].id,
                                                           clinic["patient"].id))
    assert isinstance(recalled, int)
    assert isinstance(prepared, InsufficientStock), prepared   # the recalled lot is not usable
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() == 0
    assert db.session.get(Lot, lot_id).quantity_on_hand == on_hand
    assert_nothing_outside_the_recall(lot_id)


def test_an_administration_that_locked_the_batch_first_joins_the_recall(
        app, clinic, make_batch, start_course, make_patient):
    other = make_patient(last_name="Other")
    course = start_course(patient_id=other.id)
    batch = make_batch(2, patient=None)
    given, recalled = race(app, give(course["sessions"][0]["id"], batch.id),
                           recall(clinic["lido_lot"].id))
    assert isinstance(given, int) and isinstance(recalled, int), (given, recalled)
    assert_nothing_outside_the_recall(clinic["lido_lot"].id)
    assert db.session.execute(select(RecallPatient.patient_id)).scalars().all() == [other.id]


def test_an_administration_waiting_for_the_recall_is_refused(
        app, clinic, make_batch, start_course, make_patient):
    other = make_patient(last_name="Other")
    course = start_course(patient_id=other.id)
    batch = make_batch(2, patient=None)
    recalled, given = race(app, recall(clinic["lido_lot"].id),
                           give(course["sessions"][0]["id"], batch.id))
    assert isinstance(recalled, int)
    assert isinstance(given, Conflict) and given.code == "batch_on_hold", given
    assert db.session.execute(select(func.count()).select_from(Administration)).scalar_one() == 0
    recall_row = assert_nothing_outside_the_recall(clinic["lido_lot"].id)
    assert recall_row.status == "closed"           # it reached nobody
