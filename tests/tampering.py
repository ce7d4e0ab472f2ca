"""What an attacker with write access to the database can do to the append-only tables:
drop their triggers (``formulary.append_only``), change rows, and put the triggers back,
in one transaction. Tests use it to show what ``audit verify`` then finds."""

from __future__ import annotations

from sqlalchemy import text

from formulary import append_only
from formulary.extensions import db


def tamper(*statements) -> None:
    """Run ``statements`` (SQL text or Core statements) past the append-only triggers, and
    commit."""
    dialect = db.engine.dialect.name
    for ddl in append_only.drop_statements(dialect):
        db.session.execute(text(ddl))
    for statement in statements:
        db.session.execute(text(statement) if isinstance(statement, str) else statement)
    for ddl in append_only.trigger_statements(dialect):
        db.session.execute(text(ddl))
    db.session.commit()
