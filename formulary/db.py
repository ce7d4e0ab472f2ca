"""Column types and the database's transaction discipline.

- ``Quantity`` / ``Money``: ``Numeric`` columns read back as ``Decimal``. PostgreSQL stores
  them exactly. SQLite has no decimal type and keeps them as 8-byte reals; values are
  quantized back to the column's scale on read, which is exact for the magnitudes a clinic
  handles (under 10^9 with 6 places). Arithmetic on stock is done in Python ``Decimal``
  after locking the row, never in SQL, so no float sum can drift a balance.
- ``UTCDateTime``: timezone-aware datetimes in code, naive UTC in the column (the same on
  both databases). A naive datetime is refused rather than guessed.
- SQLite: WAL, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for every
  transaction that may write, so two writers queue instead of losing an update
  (``SELECT ... FOR UPDATE`` compiles to nothing on SQLite). Read-only requests begin a
  deferred transaction and run beside a writer. PostgreSQL uses row locks
  (``with_for_update``) taken in a fixed order by the services.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from sqlalchemy import DateTime, Numeric, event, text
from sqlalchemy.types import TypeDecorator

#: The largest value an integer column (every id) holds on both databases.
MAX_ID = 2**31 - 1

Quantity = Numeric(20, 6, asdecimal=True)
Money = Numeric(14, 4, asdecimal=True)

#: Whether the transaction begun next may write (SQLite: BEGIN IMMEDIATE vs DEFERRED).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: The PostgreSQL advisory lock that orders the writes made just before a commit.
_COMMIT_ORDER_LOCK = 7_300_041  # arbitrary constant


def lock_commit_order(session) -> None:
    """Queue this transaction's commit-time writes (the audit chain) behind those of every
    other writer, until it commits or rolls back.

    PostgreSQL: a transaction-scoped advisory lock (taking it again in the same
    transaction is a no-op wait). SQLite: nothing to do, the write lock of ``BEGIN
    IMMEDIATE`` is already held.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _COMMIT_ORDER_LOCK})


def rows_of(session, statement, params: dict | None = None):
    """``session.execute(statement, params)`` for a statement of plain columns (no ORM
    entity to build), run on the session's connection: the same transaction, after the
    same autoflush, the same rows, without the ORM's handling of the result (about
    0.1 ms a statement: the dashboard runs some twenty on every first view)."""
    if session.autoflush:  # what ``session.execute`` does first
        session.flush()
    return session.connection().execute(statement, params)


_WRITTEN_ORDER = text("SET LOCAL join_collapse_limit = 1")
_PLANNERS_ORDER = text("SET LOCAL join_collapse_limit = DEFAULT")


@contextmanager
def joins_as_written(session):
    """PostgreSQL: the statements run inside are planned with their joins in the order
    they are written (``join_collapse_limit = 1``, for this transaction only, put back
    after them). For a list whose statement starts from the table it pages through and
    then looks up, by primary key, what each row names (the batch list, the adverse
    events: seven and ten tables), the planner's search among the join orders took 5-15
    ms on a year's data to choose the order written here, run in 1-2 ms (bench/README.md,
    round 7). Only where the plan was compared: the recall trace's statements, for one,
    ran 60 times slower in their written order. If a statement inside fails, the
    transaction is rolled back, and the setting with it. SQLite: nothing to do."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        rows_of(session, _WRITTEN_ORDER)
    yield
    if postgresql:
        rows_of(session, _PLANNERS_ORDER)


_GENERIC_PLANS = text("SELECT current_setting('plan_cache_mode'), "
                      "set_config('plan_cache_mode', 'force_generic_plan', true)")
_PLAN_MODE_BACK = text("SELECT set_config('plan_cache_mode', :mode, true)")


@contextmanager
def generic_plans(session):
    """PostgreSQL: the statements run inside reuse one plan made without their values
    (``plan_cache_mode = force_generic_plan`` for this transaction, put back after them)
    once psycopg has prepared them (from a statement's fifth run on a connection).

    The app's connections plan every statement for its values (``configure_engine``:
    one count's generic plan was a thousand times slower). Only for statements whose
    generic plan was compared with their custom ones and is the same: the recall trace's
    four, whose one value is a lot's id (bench/README.md, round 9: their planning took
    2.2 of the trace's 27 ms). If anything inside raises, the setting is not put back
    here: the transaction it belongs to is rolled back (the request's error handling),
    and the setting with it, as for ``joins_as_written``. SQLite: nothing to do."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    mode = rows_of(session, _GENERIC_PLANS).scalar()
    yield
    rows_of(session, _PLAN_MODE_BACK, {"mode": mode})


def is_sqlite(engine_or_session) -> bool:
    bind = getattr(engine_or_session, "bind", engine_or_session)
    if hasattr(engine_or_session, "get_bind"):
        bind = engine_or_session.get_bind()
    return bind.dialect.name == "sqlite"


def configure_engine(engine, busy_timeout: int) -> None:
    """Install the SQLite pragmas and the begin hook on one engine (idempotent); on
    PostgreSQL, turn the JIT compiler off and plan every statement for its values
    (``plan_cache_mode``) on the app's connections."""
    if getattr(engine, "_formulary_configured", False):
        return
    if engine.dialect.name == "postgresql":
        engine._formulary_configured = True

        @event.listens_for(engine, "connect")
        def _planner_settings(dbapi_connection, _record):
            # The JIT compiles a statement whose estimated cost passes jit_above_cost:
            # 100-300 ms of compiling for a count that runs in 3 ms (a correlated sum
            # per row inflates the estimate). Short statements only here: never worth it.
            #
            # psycopg prepares a statement on the server from its fifth run, and from
            # the prepared statement's sixth run PostgreSQL may keep one generic plan,
            # made without the values. For the dashboard's count of batches on a held
            # lot, the generic plan cannot see that the lots held are few (one of
            # 'quarantined', 'recalled' matches almost nothing) and scans every batch
            # with a sum per row: 1.5-4 s at 200,000 batches from the eleventh view of a
            # worker, instead of 20 ms (measured: bench/README.md, issue 18). Every
            # statement here is short, so planning it for its values each time costs
            # little; psycopg still saves the parsing.
            cursor = dbapi_connection.cursor()
            cursor.execute("SET jit = off")
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            cursor.close()
            dbapi_connection.commit()
        return
    if engine.dialect.name != "sqlite":
        return
    engine._formulary_configured = True
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's begin event emit BEGIN itself (pysqlite's own is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


class DriverSelect:
    """A select whose rows are read as the database driver gives them (no result
    processing: SQLite's text datetimes and real quantities as they are), with, for each
    column, the function SQLAlchemy would have applied to it (its type's result processor
    for the dialect and the column's type code) or ``None`` where it applies none. A
    reader that meets the same raw value many times (the recall trace's lines: a few
    hundred distinct among 1,500) converts it once instead of on every row, and gets
    exactly what ``session.execute(stmt)`` would have given. Built once and kept (values
    as bound parameters): building the trace's select of 25 columns and six tables took
    0.4 ms."""

    def __init__(self, stmt):
        from sqlalchemy import type_coerce
        from sqlalchemy.types import NULLTYPE

        self.columns = list(stmt.selected_columns)
        self.statement = stmt.with_only_columns(
            *(type_coerce(c, NULLTYPE).label(f"c{i}") for i, c in enumerate(self.columns)),
            maintain_column_froms=True)
        self._converters: dict[tuple, list] = {}

    def rows(self, session, params: dict | None = None) -> tuple[list, list]:
        """``(rows, converters)``, by Core (no ORM result set-up) on the session's
        connection, after the session's autoflush (``rows_of``); the rows are the
        driver's own tuples (no SQLAlchemy ``Row`` made for each of the trace's 1,700)."""
        result = rows_of(session, self.statement, params or {})
        dialect = result.dialect
        codes = tuple(d[1] for d in result.cursor.description)
        converters = self._converters.get((dialect.name, dialect.driver, codes))
        if converters is None:
            converters = self._converters[(dialect.name, dialect.driver, codes)] = [
                c.type.dialect_impl(dialect).result_processor(dialect, code)
                for c, code in zip(self.columns, codes, strict=True)]
        rows = result.cursor.fetchall()
        result.close()
        return rows, converters


def converted(rows, converters):
    """``DriverSelect.rows``' rows with every value converted (what ``session.execute``
    gives)."""
    active = [(i, f) for i, f in enumerate(converters) if f is not None]
    if not active:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        row = list(row)
        for i, f in active:
            row[i] = f(row[i])
        out.append(tuple(row))
    return out
