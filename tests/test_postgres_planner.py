"""PostgreSQL's planner settings on the app's connections (``db.configure_engine``).

psycopg prepares a statement on the server from its fifth run; PostgreSQL may then keep a
generic plan for it, made without the values, and the dashboard's count of batches on a
held lot became a scan of every batch from a worker's eleventh view (bench/README.md,
issue 18). The app's connections plan every statement for its values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from formulary import clock
from formulary.compounding.dashboard import held_and_expired
from formulary.extensions import db


@pytest.fixture
def postgres(backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL's planner and psycopg's prepared statements")


def test_the_apps_connections_have_the_planner_settings(postgres, app):
    settings = dict(db.session.execute(text(
        "SELECT name, setting FROM pg_settings WHERE name IN ('jit', 'plan_cache_mode')")).all())
    assert settings == {"jit": "off", "plan_cache_mode": "force_custom_plan"}


def test_a_statement_run_again_and_again_is_planned_for_its_values(postgres, app, make_ingredient,
                                                                   make_lot):
    ing = make_ingredient()
    make_lot(ing, "10", expiry=clock.today() + timedelta(days=90))
    make_lot(ing, "5", expiry=clock.today() + timedelta(days=60), status="quarantined")
    db.session.commit()
    # one connection for all the runs: prepared statements belong to the connection
    connection = db.session.connection()
    for _ in range(15):  # prepared from the 5th run, a generic plan possible from its 6th
        assert held_and_expired(db.session, clock.now()) == (0, 0)
    prepared = connection.execute(text(
        "SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements "
        "WHERE statement LIKE '%batch_tally%'")).one()
    generic, custom = (int(v or 0) for v in prepared)
    assert custom > 0, "the statement was not prepared: psycopg's prepare_threshold changed?"
    assert generic == 0


#: Each setting a context manager of ``db`` changes for the statements inside it: the
#: setting, its value inside, and the connection's own (put back after them).
SCOPED_SETTINGS = {
    "joins_as_written": ("join_collapse_limit", "1", "8"),
    "generic_plans": ("plan_cache_mode", "force_generic_plan", "force_custom_plan"),
}


def _setting(name: str) -> str:
    return db.session.execute(text(f"SHOW {name}")).scalar_one()


@pytest.mark.parametrize("manager", SCOPED_SETTINGS)
def test_a_planner_setting_holds_for_its_statements_only(postgres, app, manager):
    from formulary import db as formulary_db

    setting, inside, own = SCOPED_SETTINGS[manager]
    assert _setting(setting) == own
    with getattr(formulary_db, manager)(db.session):
        assert _setting(setting) == inside
    assert _setting(setting) == own
    db.session.commit()
    assert _setting(setting) == own  # nothing left on the pooled connection


@pytest.mark.parametrize("manager", SCOPED_SETTINGS)
def test_a_failure_inside_leaves_the_planner_setting_with_the_rollback(postgres, app, manager):
    from sqlalchemy.exc import DBAPIError

    from formulary import db as formulary_db

    setting, _inside, own = SCOPED_SETTINGS[manager]
    with pytest.raises(DBAPIError):
        with getattr(formulary_db, manager)(db.session):
            db.session.execute(text("SELECT 1 / 0"))
    db.session.rollback()
    assert _setting(setting) == own


@pytest.mark.parametrize("url", ["/batches", "/api/v1/batches",
                                 "/api/v1/adverse-events"])
def test_the_lists_planned_as_written_leave_the_connection_as_it_was(postgres, app, client,
                                                                     login_as, api, url):
    """The batch list and the adverse events plan their statement in its written order,
    and put the planner's own search back after it (the same connection then serves the
    rest of the request: the audit of the read, its commit)."""
    from sqlalchemy import event

    seen = []

    def watch(_conn, _cursor, statement, *_args):
        if "join_collapse_limit" in statement:
            seen.append(statement.split("=")[-1].strip())

    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        if url.startswith("/api/"):
            response = api("admin").get(url.removeprefix("/api/v1/"))
        else:
            login_as("admin")
            response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    assert response.status_code == 200
    assert seen == ["1", "DEFAULT"]

