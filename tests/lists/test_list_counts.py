"""Cheaper reads of big lists (issue 19): a list of one mapped class counted on its table
with the same WHERE (the same number as counting the list's own rows), a NOT NULL sort
column ordered without NULLS LAST (an index serves it) while a nullable one keeps NULLs
last, and a filter's choices read value by value from an index."""

from __future__ import annotations

from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.cocktails.models import Cocktail
from formulary.compounding.models import Batch
from formulary.compounding.queries import BATCH_SORT, batches_query
from formulary.domain.listing import Sort
from formulary.extensions import db
from formulary.listing import count_statement, distinct_values
from tests.lists.test_sorting import three_batches  # noqa: F401 (a fixture)


def _subquery_count(stmt) -> int:
    return db.session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


def test_a_list_of_batches_is_counted_on_its_table_and_counts_the_same(app, three_batches):  # noqa: F811
    for kw in ({}, {"status": "prepared"}, {"status": "verified"}, {"state": "prepared"},
               {"cocktail_id": db.session.execute(select(Cocktail.id).where(
                   Cocktail.name == "Beta")).scalar_one()}):
        stmt = batches_query(**kw)
        count = count_statement(stmt)
        sql = str(count)
        assert "FROM batch" in sql and "(SELECT batch.id" not in sql, sql  # not the row subquery
        assert "administration" not in sql or "state" in kw  # no doses summed per row
        assert db.session.execute(count).scalar_one() == _subquery_count(stmt), kw
    assert db.session.execute(count_statement(batches_query())).scalar_one() == 3


def test_joins_distinct_and_plain_columns_are_counted_through_a_subquery(app):
    for stmt in (select(Cocktail).join(Cocktail.versions), select(Cocktail).distinct(),
                 select(Cocktail.id, Cocktail.name), select(func.count(Cocktail.id))):
        assert "anon" in str(count_statement(stmt)), stmt


def test_not_null_columns_are_ordered_without_nulls_last():
    order = [str(c) for c in BATCH_SORT.order(Sort("prepared", True))]
    assert order == ["batch.prepared_at DESC", "batch.id DESC"]
    patient = " ".join(str(c) for c in BATCH_SORT.order(Sort("patient")))
    assert "NULLS LAST" in patient  # a batch without patient: last either way
    assert Batch.__table__.c.prepared_at.nullable is False


def test_distinct_values_are_every_value_once_in_order(app):
    from formulary.audit.services import record

    for obj_type in ("patient", "lot", "patient", "batch", "lot", "patient"):
        record(db.session, None, f"{obj_type}.view", obj_type, 1, summary="test")
    db.session.commit()
    expected = db.session.execute(select(AuditEntry.object_type).distinct()
                                  .order_by(AuditEntry.object_type)).scalars().all()
    assert expected == ["batch", "lot", "patient"]
    assert distinct_values(AuditEntry.object_type) == expected
