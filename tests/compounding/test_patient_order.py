"""The keys each batch carries of its patient (``compounding.patient_order``), which the
batch list sorted by patient pages through: written by the database's triggers on every
write to a batch's patient or a patient's names, whoever writes; equal to the database's
own ``lower()`` of the patient's columns (the function the one sorted statement orders
by); NULL without a patient; mended by ``rebuild`` when written without the triggers; on
PostgreSQL, right after a rename and a new batch of the same patient race."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from formulary.compounding import patient_order
from formulary.compounding.models import Batch
from formulary.extensions import db
from formulary.patients.models import Patient
from tests.courses.conftest import clinic, make_batch  # noqa: F401


def keys_of(batch_id: int) -> tuple:
    db.session.expire_all()
    return db.session.execute(select(Batch.patient_last_key, Batch.patient_first_key,
                                     Batch.patient_mrn_key).where(Batch.id == batch_id)).one()


def lowered(patient_id: int) -> tuple:
    """The patient's columns through the database's ``lower()``."""
    return db.session.execute(select(func.lower(Patient.last_name), func.lower(Patient.first_name),
                                     func.lower(Patient.mrn)).where(Patient.id == patient_id)).one()


def test_the_keys_follow_the_patient_whoever_writes(app, make_batch, make_patient):
    ana = make_patient("MRN-Ab12", first_name="Ana", last_name="ÉLAN-Martin")
    bob = make_patient("mrn-zz9", first_name="BOB", last_name="Zéphyr")
    of_ana, of_none = make_batch(1, patient=ana), make_batch(1, patient=None)
    ana_id, bob_id, batch_id = ana.id, bob.id, of_ana.id
    assert keys_of(batch_id) == lowered(ana_id)
    assert keys_of(batch_id)[2] == "mrn-ab12"  # lower() as the database writes it
    assert keys_of(of_none.id) == (None, None, None)
    # renamed through the ORM (the patient's page and API)
    ana.last_name, ana.first_name = "O'Neil", "ANNA"
    db.session.commit()
    assert keys_of(batch_id) == lowered(ana_id) == ("o'neil", "anna", "mrn-ab12")
    # by a Core statement, as a migration or psql would
    db.session.execute(update(Patient).where(Patient.id == ana_id).values(mrn="MRN-NEW"))
    db.session.commit()
    assert keys_of(batch_id)[2] == "mrn-new"
    # the batch given to another patient, then to none
    db.session.execute(update(Batch).where(Batch.id == batch_id).values(patient_id=bob_id))
    db.session.commit()
    assert keys_of(batch_id) == lowered(bob_id)
    db.session.execute(update(Batch).where(Batch.id == batch_id).values(patient_id=None))
    db.session.commit()
    assert keys_of(batch_id) == (None, None, None)
    # a key written by hand is written again from the patient
    db.session.execute(update(Batch).where(Batch.id == of_none.id).values(patient_id=ana_id))
    db.session.execute(update(Batch).where(Batch.id == of_none.id)
                       .values(patient_last_key="aaa", patient_mrn_key=None))
    db.session.commit()
    assert keys_of(of_none.id) == lowered(ana_id)
    # a write to another column of the patient leaves the keys as they are
    db.session.execute(update(Patient).where(Patient.id == ana_id).values(notes="seen"))
    db.session.commit()
    assert keys_of(of_none.id) == lowered(ana_id)
    assert patient_order.stale(db.session) == []
    assert patient_order.missing_triggers(db.session.connection()) == []


def test_rebuild_mends_keys_written_without_the_triggers(app, make_batch, make_patient):
    ana = make_patient(first_name="Ana", last_name="Alpha")
    batch = make_batch(1, patient=ana)
    dialect = db.engine.dialect.name
    try:
        for statement in patient_order.drop_statements(dialect):
            db.session.execute(text(statement))
        assert patient_order.missing_triggers(db.session.connection()) != []
        db.session.execute(update(Patient).where(Patient.id == ana.id).values(last_name="Omega"))
        assert patient_order.stale(db.session) == [batch.id]
        assert patient_order.rebuild(db.session) >= 1
        assert patient_order.stale(db.session) == []
        assert keys_of(batch.id)[0] == "omega"
    finally:
        db.session.rollback()  # PostgreSQL: the triggers' drop rolled back with it
        for statement in patient_order.trigger_statements(dialect):
            db.session.execute(text(statement))
        db.session.commit()
    assert patient_order.missing_triggers(db.session.connection()) == []


def test_the_migration_makes_the_same_triggers():
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    path = next(versions.glob("5f3b8d2a7c41_*.py"))
    spec = importlib.util.spec_from_file_location("migration_5f3b8d2a7c41", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for dialect in ("sqlite", "postgresql"):
        assert migration._triggers(dialect) == patient_order.trigger_statements(dialect)
    assert migration.KEYS == patient_order.KEYS and migration.SOURCES == patient_order.SOURCES


def _waits_for_a_lock(pid: int) -> bool:
    """Whether PostgreSQL's backend ``pid`` waits for a lock (polled up to 5 s)."""
    with db.engine.connect() as watcher:
        for _ in range(100):
            waiting = watcher.execute(text(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid}).scalar()
            watcher.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.timeout(60)
@pytest.mark.parametrize("first", ["batch", "rename"])
def test_a_rename_racing_a_batch_of_the_patient_reaches_it(app, backend, make_batch,
                                                           make_patient, first):
    """PostgreSQL: a batch given to a patient and the patient's rename, in two
    transactions at once. The batch's trigger reads the patient ``FOR SHARE``: whichever
    comes second waits for the first to commit, so the batch ends with the new name
    (without the lock, a rename committed after the batch read the old name would not see
    the batch, not yet committed, and leave it with the old keys)."""
    if backend != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: no race to run")
    ana = make_patient(first_name="Ana", last_name="Before")
    batch = make_batch(1, patient=None)
    patient_id, batch_id = ana.id, batch.id
    db.session.commit()
    give = text("UPDATE batch SET patient_id = :p WHERE id = :b")
    rename = text("UPDATE patient SET last_name = 'After' WHERE id = :p")
    holder, waiter = db.engine.connect(), db.engine.connect()
    errors = []
    try:
        pid = waiter.execute(text("SELECT pg_backend_pid()")).scalar()
        holder.execute(give if first == "batch" else rename, {"p": patient_id, "b": batch_id})

        def second():
            try:
                waiter.execute(rename if first == "batch" else give, {"p": patient_id, "b": batch_id})
                waiter.commit()
            except Exception as error:  # reported by the assertion below
                errors.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        assert _waits_for_a_lock(pid)  # the second waits for the first
        holder.commit()
        thread.join(20)
        assert not thread.is_alive() and errors == []
    finally:
        holder.close()
        waiter.close()
    assert keys_of(batch_id)[0] == "after"
    assert patient_order.stale(db.session) == []
