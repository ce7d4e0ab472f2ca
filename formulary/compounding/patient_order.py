"""The batch's copy of its patient's sort keys: what the batch list sorted by the
patient's name or MRN pages through (``queries.batch_list_page``).

Sorted by patient, the list's order is ``lower(last name), lower(first name)``, then the
batch's id (or ``lower(MRN)``, then the id), the batches of no patient last. Read through
the join to the patient, a page walked every batch before it, patient by patient: at a
year's scale (40,000 batches of a patient) page 400 of 1,000 took PostgreSQL 26 ms, page
700 walked from the start 53 ms (bench/README.md, round 8). So each batch carries its
patient's keys, ``patient_last_key``, ``patient_first_key`` and ``patient_mrn_key`` (NULL
for a batch of no patient), with an index per order (``ix_batch_patient_name_order``,
``ix_batch_patient_mrn_order``), and a page is a range of an index.

The keys are not left to the application: the database writes them, with its own
``lower()``, the function the one sorted statement (``queries.BATCH_SORT``) orders by,
so that the two orders agree to the letter (SQLite's ``lower()`` folds ASCII letters
only, PostgreSQL's follows the database's locale: Python's ``str.lower`` agrees with
neither). Triggers write them whoever writes (the ORM, a Core statement, a bulk load, a
migration, ``psql``, another process):

- a batch inserted, or its ``patient_id`` or one of its keys updated: its keys read from
  its patient (NULL without one). PostgreSQL: ``BEFORE INSERT OR UPDATE OF ...`` setting
  ``NEW``, reading the patient ``FOR SHARE``, so that a rename of the patient in another
  transaction either commits first (and this batch reads the new name) or waits for this
  one (and then reaches this batch). SQLite writes one transaction at a time: an ``AFTER
  INSERT`` and an ``AFTER UPDATE OF`` trigger (the latter only when a key differs).
- a patient's last name, first name or MRN updated: the keys of every batch of theirs.

So a batch has keys exactly when it has a patient; the list's part "of a patient" is the
batches whose first key is not NULL (read from the index alone), its part "of no
patient" those whose ``patient_id`` is NULL (``ix_batch_patient``). :func:`stale` lists
the batches whose keys are not their patient's (none, with the triggers in place) and
:func:`rebuild` writes them all again.

Made by the migration ``5f3b8d2a7c41`` (which spells out the same DDL) and, for a schema
made by ``create_all`` (the tests), on the metadata's ``after_create``. A later migration
that rebuilds ``batch`` or ``patient`` on SQLite (``batch_alter_table`` copies the table)
must make the triggers again: :func:`missing_triggers` lists what is missing.
"""

from __future__ import annotations

from sqlalchemy import event, func, or_, select, text, update
from sqlalchemy.orm import Session

from formulary.extensions import db

KEYS = ("patient_last_key", "patient_first_key", "patient_mrn_key")
#: The patient's column each key is the ``lower()`` of, in ``KEYS``' order.
SOURCES = ("last_name", "first_name", "mrn")

_BATCH_FUNCTION = "batch_patient_order_of_batch"
_PATIENT_FUNCTION = "batch_patient_order_of_patient"
#: SQLite's trigger names; PostgreSQL's are its two functions' names.
SQLITE_TRIGGERS = ("batch_patient_order_insert", "batch_patient_order_update",
                   "batch_patient_order_patient")


def _from_patient(patient_id: str) -> str:
    """SQLite: the keys set from the patient ``patient_id`` (an SQL expression)."""
    return ", ".join(f"{key} = (SELECT lower({source}) FROM patient WHERE id = {patient_id})"
                     for key, source in zip(KEYS, SOURCES))


def trigger_statements(dialect: str) -> list[str]:
    """The DDL that makes the triggers (see the module docstring): for SQLite, else for
    PostgreSQL."""
    keys = ", ".join(KEYS)
    names = ", ".join(SOURCES)
    if dialect == "sqlite":
        differs = " OR ".join(f"NEW.{key} IS NOT (SELECT lower({source}) FROM patient "
                              "WHERE id = NEW.patient_id)" for key, source in zip(KEYS, SOURCES))
        return [
            "CREATE TRIGGER IF NOT EXISTS batch_patient_order_insert AFTER INSERT ON batch "
            "FOR EACH ROW WHEN NEW.patient_id IS NOT NULL "
            f"BEGIN UPDATE batch SET {_from_patient('NEW.patient_id')} WHERE id = NEW.id; END",
            f"CREATE TRIGGER IF NOT EXISTS batch_patient_order_update AFTER UPDATE OF patient_id, "
            f"{keys} ON batch FOR EACH ROW WHEN {differs} "
            f"BEGIN UPDATE batch SET {_from_patient('NEW.patient_id')} WHERE id = NEW.id; END",
            f"CREATE TRIGGER IF NOT EXISTS batch_patient_order_patient AFTER UPDATE OF {names} "
            "ON patient FOR EACH ROW BEGIN UPDATE batch SET "
            + ", ".join(f"{key} = lower(NEW.{source})" for key, source in zip(KEYS, SOURCES))
            + " WHERE patient_id = NEW.id; END",
        ]
    changed = " OR ".join(f"NEW.{s} IS DISTINCT FROM OLD.{s}" for s in SOURCES)
    return [
        f"CREATE OR REPLACE FUNCTION {_BATCH_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.patient_id IS NULL THEN "
        + " ".join(f"NEW.{key} := NULL;" for key in KEYS)
        + f" ELSE SELECT {', '.join(f'lower({s})' for s in SOURCES)} INTO "
        + ", ".join(f"NEW.{key}" for key in KEYS)
        + " FROM patient WHERE id = NEW.patient_id FOR SHARE; END IF; RETURN NEW; END $$",
        f"CREATE OR REPLACE TRIGGER {_BATCH_FUNCTION} BEFORE INSERT OR UPDATE OF patient_id, "
        f"{keys} ON batch FOR EACH ROW EXECUTE FUNCTION {_BATCH_FUNCTION}()",
        f"CREATE OR REPLACE FUNCTION {_PATIENT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {changed} THEN UPDATE batch SET "
        + ", ".join(f"{key} = lower(NEW.{source})" for key, source in zip(KEYS, SOURCES))
        + " WHERE patient_id = NEW.id; END IF; RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER {_PATIENT_FUNCTION} AFTER UPDATE OF {names} ON patient "
        f"FOR EACH ROW EXECUTE FUNCTION {_PATIENT_FUNCTION}()",
    ]


def drop_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    return [f"DROP TRIGGER IF EXISTS {_BATCH_FUNCTION} ON batch",
            f"DROP TRIGGER IF EXISTS {_PATIENT_FUNCTION} ON patient",
            f"DROP FUNCTION IF EXISTS {_BATCH_FUNCTION}()",
            f"DROP FUNCTION IF EXISTS {_PATIENT_FUNCTION}()"]


@event.listens_for(db.metadata, "after_create")
def create_triggers(_metadata, connection, tables=None, **_kw) -> None:
    """After ``create_all``: the triggers (unless only some tables, not ``batch`` and
    ``patient``, were made)."""
    if tables is not None and not {"batch", "patient"} <= {t.name for t in tables}:
        return
    for statement in trigger_statements(connection.dialect.name):
        connection.execute(text(statement))


def missing_triggers(connection) -> list[str]:
    """The triggers (SQLite) or trigger functions (PostgreSQL) missing or disabled: none
    on a schema made by the migrations or by ``create_all``."""
    if connection.dialect.name == "sqlite":
        found = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'batch_patient_order_%'")).scalars())
        wanted = SQLITE_TRIGGERS
    else:
        found = set(connection.execute(text(
            "SELECT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE p.proname IN (:b, :p) AND t.tgenabled <> 'D'"),
            {"b": _BATCH_FUNCTION, "p": _PATIENT_FUNCTION}).scalars())
        wanted = (_BATCH_FUNCTION, _PATIENT_FUNCTION)
    return [name for name in wanted if name not in found]


def _keys_of_patient():
    from formulary.compounding.models import Batch
    from formulary.patients.models import Patient

    return {key: select(func.lower(getattr(Patient, source)))
            .where(Patient.id == Batch.patient_id).scalar_subquery()
            for key, source in zip(KEYS, SOURCES)}


def stale(session: Session, limit: int = 100) -> list[int]:
    """The ids of up to ``limit`` batches whose keys are not their patient's (with a
    patient: not ``lower()`` of its columns; without: not NULL). None while the triggers
    are in place."""
    from formulary.compounding.models import Batch

    wanted = _keys_of_patient()
    differs = [getattr(Batch, key).is_distinct_from(value) for key, value in wanted.items()]
    return list(session.execute(select(Batch.id).where(or_(*differs))
                                .order_by(Batch.id).limit(limit)).scalars())


def rebuild(session: Session) -> int:
    """Every batch's keys written again from its patient (one statement); the number of
    batches."""
    from formulary.compounding.models import Batch

    return session.execute(update(Batch).values(**_keys_of_patient())
                           .execution_options(synchronize_session=False)).rowcount


__all__ = ["KEYS", "SOURCES", "SQLITE_TRIGGERS", "create_triggers", "drop_statements",
           "missing_triggers", "rebuild", "stale", "trigger_statements"]
