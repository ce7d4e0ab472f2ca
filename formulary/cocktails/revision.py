"""The formulary revision: a random token that the database itself renews at every write
to what the safety screen reads of the formulary.

The formulation picker screens a patient against every active cocktail. What it reads of
the formulary (the active cocktails and their components, the ingredients with their
allergen groups and contraindications, the cross-reactivity table) is the same for every
patient and changes seldom, so ``patients.screen_snapshot`` keeps it in memory under this
token. A stale copy would hide an allergy conflict, so the token is not left to the
application to renew: triggers on every table the screen reads (:data:`WATCHED`) renew it
in the same transaction as the write, whoever writes (the ORM, a Core statement, a
migration, ``psql``, another process). The token commits or rolls back with the change;
a random token never comes back, even after a restore, except with the data it was drawn
for.

- SQLite: a trigger per table and event (``AFTER INSERT/UPDATE/DELETE ... FOR EACH ROW``),
  ``INSERT OR REPLACE`` of row 1 with ``randomblob``.
- PostgreSQL: one function, and a ``BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ... FOR
  EACH STATEMENT`` trigger per table, upserting row 1 with ``gen_random_uuid()``
  (PostgreSQL 14 or later, for ``CREATE OR REPLACE TRIGGER``). Being ``BEFORE`` the statement, a transaction takes the
  revision row's lock before any formulary row lock of that statement: writers of the
  formulary queue on it (they are few: pharmacists editing cocktails and ingredients),
  and no two can hold each other's rows in a circle. Batches, lots and patients do not
  touch it.

The triggers are made by the migration ``5b0e7c3f9a21`` (which spells out the same DDL)
and, for a schema made by ``create_all`` (the tests), by :func:`create_triggers` on the
metadata's ``after_create``.
A later migration that rebuilds a watched table on SQLite (``batch_alter_table`` copies
the table) must make its triggers again: ``tests/test_migrations.py`` checks, at the head,
that :func:`missing_triggers` finds none missing.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import Integer, String, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from formulary.extensions import db

#: The tables the safety screen reads of the formulary (``patients.screen_snapshot``).
WATCHED = ("allergen_group", "cross_reactivity", "ingredient", "ingredient_allergen_group",
           "ingredient_contraindication", "cocktail", "cocktail_version", "component")

_FUNCTION = "formulary_revision_renew"

logger = logging.getLogger(__name__)


class FormularyRevision(db.Model):
    """One row (id 1) holding the formulary revision's token (see the module docstring).
    Written by the database's triggers, never by the application after the first row."""

    __tablename__ = "formulary_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


def trigger_statements(dialect: str, tables=WATCHED) -> list[str]:
    """The DDL that makes the triggers renewing the token on writes to ``tables``: for
    SQLite, else for PostgreSQL (the two databases Formulary runs on, as in ``db``)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {_FUNCTION}_{table}_{event_} AFTER {event_.upper()} "
            f"ON {table} FOR EACH ROW BEGIN INSERT OR REPLACE INTO formulary_revision (id, token) "
            f"VALUES (1, lower(hex(randomblob(16)))); END"
            for table in tables for event_ in ("insert", "update", "delete")]
    return [
        f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO formulary_revision (id, token) "
        "VALUES (1, replace(gen_random_uuid()::text, '-', '')) "
        "ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token; RETURN NULL; END $$",
        *(f"CREATE OR REPLACE TRIGGER {_FUNCTION} BEFORE INSERT OR UPDATE OR DELETE OR "
          f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
          for table in tables),
    ]


@event.listens_for(db.metadata, "after_create")
def create_triggers(_metadata, connection, tables=None, **_kw) -> None:
    """After ``create_all``: the triggers, and the first token (unless only some tables,
    not all those watched, were made)."""
    if tables is not None and not set(WATCHED) | {"formulary_revision"} <= {t.name for t in tables}:
        return
    for statement in trigger_statements(connection.dialect.name):
        connection.execute(text(statement))
    connection.execute(FormularyRevision.__table__.delete())
    connection.execute(FormularyRevision.__table__.insert().values(id=1, token=uuid.uuid4().hex))


# Over the ORM class, not the table: executing it flushes the session first, so a write
# of this transaction still pending in the session renews the token it reads.
_TOKEN = select(FormularyRevision.token).where(FormularyRevision.id == 1)


#: The token as a column of another statement, read in that statement's view of the
#: database (``None`` when the row is missing): what the statement reads is what the
#: formulary was at this token.
TOKEN_COLUMN = (select(FormularyRevision.__table__.c.token)
                .where(FormularyRevision.__table__.c.id == 1).scalar_subquery().label("revision"))


def token(session: Session) -> str | None:
    """The current formulary revision's token (one statement, after the session's
    pending writes are flushed); ``None`` when the row is missing (a database emptied
    table by table: nothing is kept until the next write)."""
    return session.execute(_TOKEN).scalar()


def missing_triggers(connection) -> list[tuple[str, str]]:
    """The (table, event) pairs of :data:`WATCHED` whose write would not renew the token:
    none on a schema made by the migrations or by ``create_all``."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.execute(text(
            "SELECT tbl_name, upper(name) FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE :prefix"), {"prefix": f"{_FUNCTION}_%"}).all()
        found = {(table, name.rsplit("_", 1)[1]) for table, name in rows}
        events = ("INSERT", "UPDATE", "DELETE")
    else:
        # tgtype's bits: 1 row-level, 2 before, 4 insert, 8 delete, 16 update, 32 truncate
        rows = connection.execute(text(
            "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = :function AND t.tgenabled <> 'D'"),
            {"function": _FUNCTION}).all()
        bits = {"INSERT": 4, "DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}
        found = {(table, event_) for table, tgtype in rows
                 for event_, bit in bits.items() if tgtype & bit}
        events = tuple(bits)
    return [(table, event_) for table in WATCHED for event_ in events
            if (table, event_) not in found]


def may_keep(session: Session, store: dict, otherwise: str) -> bool:
    """Whether a worker may keep what it reads of the formulary under the token: whether
    every trigger is in place (:func:`missing_triggers`), checked once per ``store`` (a
    worker's own, in ``app.extensions``). When one is missing, an error is logged
    (``otherwise``: what the worker does instead) and nothing may be kept."""
    if "may_keep" not in store:
        missing = missing_triggers(session.connection())
        if missing:
            logger.error("The formulary revision's triggers are missing for %s: %s.",
                         ", ".join(f"{event_} on {table}" for table, event_ in missing),
                         otherwise)
        store["may_keep"] = not missing
    return store["may_keep"]
