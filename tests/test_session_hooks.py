"""``install_hooks``: listeners on a Session class, once, in the order given; and the order
the app's own books are kept in at flush and commit (the commit-time locks are taken in
one order: totals rows, batches and the tally, the audit chain's lock, the revisions)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from formulary.extensions import db
from formulary.session_hooks import install_hooks
from tests.conftest import make_app


@pytest.fixture
def session_class():
    """A Session class of its own: no listener of the app's on it."""
    class Fresh(Session):
        pass

    return Fresh


def recorder(calls: list, name: str):
    def listener(session, *args):
        calls.append(name)
    listener.__name__ = name
    return listener


def run_a_transaction(session_class):
    """A write, a flush and a commit, then a transaction rolled back."""
    engine = create_engine("sqlite://")
    with session_class(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.flush()
        session.commit()
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.rollback()
    engine.dispose()


def test_listeners_run_in_the_order_they_were_installed_in(session_class):
    calls: list[str] = []
    assert install_hooks(session_class, "first", before_commit=recorder(calls, "first commit"),
                         after_rollback=recorder(calls, "first rollback"))
    assert install_hooks(session_class, "second", after_rollback=recorder(calls, "second rollback"),
                         before_commit=recorder(calls, "second commit"))
    assert install_hooks(session_class, "third", before_commit=recorder(calls, "third commit"))
    run_a_transaction(session_class)
    assert calls == ["first commit", "second commit", "third commit",
                     "first rollback", "second rollback"]


def test_installing_again_adds_nothing(session_class):
    calls: list[str] = []
    hook = recorder(calls, "commit")
    assert install_hooks(session_class, "once", before_commit=hook) is True
    assert install_hooks(session_class, "once", before_commit=hook) is False
    # another function under the same name is not added either: the name is what is kept
    assert install_hooks(session_class, "once", before_commit=recorder(calls, "other")) is False
    run_a_transaction(session_class)
    assert calls == ["commit"]


def test_a_subclass_has_its_parents_hooks_and_does_not_get_them_twice(session_class):
    calls: list[str] = []
    assert install_hooks(session_class, "parent", before_commit=recorder(calls, "commit"))

    class Child(session_class):
        pass

    assert install_hooks(Child, "parent", before_commit=recorder(calls, "again")) is False
    run_a_transaction(Child)
    assert calls == ["commit"]
    # the parent did not get the child's hooks
    assert install_hooks(Child, "child", before_commit=recorder(calls, "child")) is True
    calls.clear()
    run_a_transaction(session_class)
    assert calls == ["commit"]


def test_a_session_of_another_class_hears_nothing(session_class):
    calls: list[str] = []
    install_hooks(session_class, "own", before_commit=recorder(calls, "commit"))

    class Other(Session):
        pass

    run_a_transaction(Other)
    assert calls == []


def _names(listeners) -> list[str]:
    return [f"{fn.__module__.removeprefix('formulary.')}.{fn.__name__}" for fn in listeners]


def test_the_apps_books_are_kept_in_their_order(app):
    """What ``create_app`` installed, per event, in the order SQLAlchemy runs them; once,
    however many apps the process makes."""
    make_app("sqlite://")
    dispatch = db.session().dispatch
    assert _names(dispatch.before_flush) == ["compounding.tally._before_flush"]
    assert _names(dispatch.after_flush) == [
        "inventory.totals._note_flushed_lots", "inventory.usage._note",
        "compounding.tally._after_flush", "courses.revision._note"]
    assert _names(dispatch.before_commit) == [
        "inventory.totals._refresh_noted",   # the totals rows, under their locks
        "inventory.usage._add_noted",        # the weekly usage, under the same
        "compounding.tally._settle",         # batches, then the tally's row
        "audit.services._write_pending",     # the audit chain's lock
        "inventory.totals._renew_revision",  # the stock revision, under the audit's lock
        "courses.revision._renew"]           # the courses' revision
    assert _names(dispatch.after_commit) == ["jobs.services._enqueue"]
    assert _names(dispatch.after_rollback) == ["audit.services.discard_pending", "jobs.services._forget"]
    assert _names(dispatch.after_transaction_end) == [
        "inventory.usage._forget", "compounding.tally._forget", "inventory.totals._forget",
        "courses.revision._forget"]
