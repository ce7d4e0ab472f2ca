"""The index that serves the patient search (``patients.services.search_statement``).

``Patient.search_text`` holds what a patient is found by (last name, first name, MRN, date
of birth; case and accents dropped), kept by the ORM on every write and by the column's
default on a Core insert. A search word must occur in it anywhere (a substring: "mar"
finds Martin and Marie), which no btree index serves. So:

- PostgreSQL: a trigram GIN index (``pg_trgm``) on the column; ``search_text LIKE
  '%word%'`` is answered from the index for words of three characters or more.
- SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or later) over the column,
  ``content='patient'`` (it stores only its index, no copy of the text), kept by three
  triggers on ``patient``; a word of three characters or more is matched as an FTS5
  phrase (a substring of the text), a shorter one by ``LIKE`` on the column (no trigram
  to look up; the other words of the search still use the index).

Made by the migration that added the column (which spells out the same DDL) and, for a
schema made by ``create_all`` (the tests), on the metadata's ``before_create`` /
``after_create``. A later migration that rebuilds ``patient`` on SQLite
(``batch_alter_table`` copies the table) must make the triggers again and rebuild the
FTS table: :func:`missing` lists what is missing.
"""

from __future__ import annotations

from sqlalchemy import event, text

from formulary.extensions import db

FTS_TABLE = "patient_search"
TRGM_INDEX = "ix_patient_search_trgm"
TRIGGERS = ("patient_search_insert", "patient_search_delete", "patient_search_update")
#: Tables and indexes that exist beside the models, not in the metadata (FTS5 makes
#: shadow tables named after its table): schema comparisons leave them out.
NOT_IN_METADATA_PREFIXES = (FTS_TABLE, TRGM_INDEX)


def ddl(dialect: str) -> list[str]:
    """The statements that make the index (on a schema holding ``patient``), and fill it
    from the rows already there."""
    if dialect == "sqlite":
        return [
            f"DROP TABLE IF EXISTS {FTS_TABLE}",
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_text, content='patient', "
            "content_rowid='id', tokenize='trigram')",
            f"CREATE TRIGGER IF NOT EXISTS patient_search_insert AFTER INSERT ON patient BEGIN "
            f"INSERT INTO {FTS_TABLE} (rowid, search_text) VALUES (new.id, new.search_text); END",
            f"CREATE TRIGGER IF NOT EXISTS patient_search_delete AFTER DELETE ON patient BEGIN "
            f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END",
            f"CREATE TRIGGER IF NOT EXISTS patient_search_update AFTER UPDATE OF search_text ON patient BEGIN "
            f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            f"INSERT INTO {FTS_TABLE} (rowid, search_text) VALUES (new.id, new.search_text); END",
            f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('rebuild')",
        ]
    return [f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON patient "
            "USING gin (search_text gin_trgm_ops)"]


EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"


@event.listens_for(db.metadata, "before_create")
def _extension(_metadata, connection, **_kw) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(EXTENSION))


@event.listens_for(db.metadata, "after_create")
def _create(_metadata, connection, tables=None, **_kw) -> None:
    if tables is not None and "patient" not in {t.name for t in tables}:
        return
    for statement in ddl(connection.dialect.name):
        connection.execute(text(statement))


def missing(connection) -> list[str]:
    """The names of the index's parts missing from this database (none on a schema made
    by the migrations or by ``create_all``)."""
    if connection.dialect.name == "sqlite":
        found = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE name = :t OR (type = 'trigger' AND "
            "tbl_name = 'patient' AND name LIKE 'patient_search_%')"), {"t": FTS_TABLE}).scalars())
        wanted = (FTS_TABLE, *TRIGGERS)
    else:
        found = set(connection.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'patient'")).scalars())
        wanted = (TRGM_INDEX,)
    return [name for name in wanted if name not in found]


def not_in_metadata(name: str | None, type_: str, _parent_names=None) -> bool:
    """``include_name`` hook of schema comparisons (alembic): False for what this module
    makes beside the metadata."""
    return not (name and type_ in ("table", "index") and name.startswith(NOT_IN_METADATA_PREFIXES))


__all__ = ["EXTENSION", "FTS_TABLE", "TRGM_INDEX", "TRIGGERS", "ddl", "missing",
           "not_in_metadata"]
