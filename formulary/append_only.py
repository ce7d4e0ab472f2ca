"""The ledger (``movement``) and the audit log (``audit_entry``) are append-only in the
database itself (SPEC §2): an UPDATE or a DELETE of one of their rows is refused by a
trigger, whoever sends it (the ORM, a Core statement, ``psql``, another program). The
application only ever inserts into them; the audit chain's hashes are computed before
the insert (``audit.services``), and a lot's balance lives on the lot, not on its
movements.

- SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers per table, ``SELECT
  RAISE(ABORT, ...)`` (the statement fails with a constraint error; nothing changes).
- PostgreSQL: one function raising ``restrict_violation`` (an integrity error, as on
  SQLite), and a ``BEFORE UPDATE OR DELETE ... FOR EACH ROW`` trigger per table.
  ``TRUNCATE`` is not covered (it fires no row trigger; the test suite empties its
  tables with it); only the database's owner may truncate.

A person with the database owner's rights can still drop a trigger: what finds such a
removal of the newest audit entries is the chain's head kept outside the log
(``audit.services.chain_head``, in backups and exports; ``audit verify --head``).

The triggers are made by the migration ``a7c41e2d9b10`` (which spells out the same DDL)
and, for a schema made by ``create_all`` (the tests), by :func:`create_triggers` on the
metadata's ``after_create``. A later migration that rebuilds one of these tables on
SQLite (``batch_alter_table`` copies the table) must make its triggers again:
``tests/test_migrations.py`` checks at the head that :func:`missing_triggers` finds none.
"""

from __future__ import annotations

from sqlalchemy import event, text

from formulary.extensions import db

#: The tables whose rows are never updated nor deleted.
TABLES = ("movement", "audit_entry")
EVENTS = ("UPDATE", "DELETE")
_NAME = "formulary_append_only"


def trigger_statements(dialect: str, tables=TABLES, *, function: bool = True) -> list[str]:
    """The DDL that makes the refusing triggers on ``tables``: for SQLite, else for
    PostgreSQL (the two databases Formulary runs on), there with the function they call
    first unless ``function`` is false (it is never dropped: ``drop_statements``)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {_NAME}_{table}_{event_.lower()} BEFORE {event_} "
            f"ON {table} FOR EACH ROW BEGIN SELECT RAISE(ABORT, "
            f"'{table} is append-only: {event_} refused'); END"
            for table in tables for event_ in EVENTS]
    made = [f"CREATE OR REPLACE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'restrict_violation'; END $$"] if function else []
    return [*made, *(f"CREATE OR REPLACE TRIGGER {_NAME} BEFORE UPDATE OR DELETE ON {table} "
                     f"FOR EACH ROW EXECUTE FUNCTION {_NAME}()" for table in tables)]


def drop_statements(dialect: str, tables=TABLES) -> list[str]:
    """The DDL that removes those triggers (the function, on PostgreSQL, stays)."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {_NAME}_{table}_{event_.lower()}"
                for table in tables for event_ in EVENTS]
    return [f"DROP TRIGGER IF EXISTS {_NAME} ON {table}" for table in tables]


@event.listens_for(db.metadata, "after_create")
def create_triggers(_metadata, connection, tables=None, **_kw) -> None:
    """After ``create_all``: the triggers (unless only some tables, not these, were made)."""
    if tables is not None and not set(TABLES) <= {t.name for t in tables}:
        return
    for statement in trigger_statements(connection.dialect.name):
        connection.execute(text(statement))


def missing_triggers(connection) -> list[tuple[str, str]]:
    """The (table, event) pairs of :data:`TABLES` an UPDATE or DELETE would pass: none on a
    schema made by the migrations or by ``create_all``."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(text(
            "SELECT tbl_name, upper(name) FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE :prefix"), {"prefix": f"{_NAME}_%"}).all()
        found = {(table, name.rsplit("_", 1)[1]) for table, name in rows}
    else:
        # tgtype's bits: 1 row-level, 2 before, 8 delete, 16 update
        rows = connection.execute(text(
            "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = :function AND t.tgenabled <> 'D'"),
            {"function": _NAME}).all()
        bits = {"DELETE": 8, "UPDATE": 16}
        found = {(table, event_) for table, tgtype in rows
                 for event_, bit in bits.items() if tgtype & bit and tgtype & 3 == 3}
    return [(table, event_) for table in TABLES for event_ in EVENTS
            if (table, event_) not in found]
