"""The batch list sorted by a patient's name or MRN chooses its page in two parts (those
of a patient through the patient's order indexes, then those of none by id:
``queries.batch_list_page``): every page must hold exactly what the one statement ordered
over the outer join (``NULLS LAST``) gives, and what the orders as first written
(correlated subqueries, ``reference_sort``) give, for every order, both directions and
filter, across the boundary between the two parts, on both databases."""

from __future__ import annotations

import pytest

from formulary import clock
from formulary.compounding.models import Batch
from formulary.compounding.queries import BATCH_SORT, batch_list_page, batch_list_query
from formulary.domain.listing import Sort
from formulary.extensions import db
from formulary.patients.models import Patient
from formulary.scale import load_year
from tests.compounding.reference_sort import REFERENCE_SORT
from tests.conftest import _empty_tables


def _one_statement(filters, sort, page, per_page, spec=BATCH_SORT):
    stmt = spec.apply(batch_list_query(**filters), sort)
    return [r[0] for r in db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))]


@pytest.fixture
def year(app):
    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=0.002)
    # names that tie but for their case, and a patient with two batches of the same name:
    # the order is lower(last), lower(first), then the batch's id
    patients = db.session.execute(db.select(Patient).order_by(Patient.id).limit(4)).scalars().all()
    for p, (last, first) in zip(patients, [("Martin", "Anne"), ("MARTIN", "anne"),
                                           ("martin", "Zoé"), ("Élan", "Bob")]):
        p.last_name, p.first_name = last, first
    db.session.commit()
    counts = dict(db.session.execute(
        db.select(Batch.patient_id.is_(None), db.func.count()).group_by(Batch.patient_id.is_(None))).all())
    assert counts.get(True, 0) > 5 and counts.get(False, 0) > 20, counts  # both parts hold batches
    return counts


@pytest.mark.timeout(120)
@pytest.mark.parametrize("key", BATCH_SORT.keys)
def test_each_page_is_the_one_statements_page(year, key):
    total_all = sum(year.values())
    filter_sets = [{}, {"status": "verified"}, {"status": "discarded"}, {"state": "expired"}]
    two_parts = key in ("patient", "mrn")  # the others are the one statement itself
    for extra in filter_sets if two_parts else filter_sets[:2]:
        filters = dict(tz=clock.clinic_tz(), now=clock.now(), **extra)
        total = db.session.execute(db.select(db.func.count()).select_from(
            batch_list_query(**filters).order_by(None).subquery())).scalar_one()
        assert total <= total_all
        for descending in (False, True):
            sort = Sort(key, descending)
            for per_page in (7, 25) if two_parts else (25,):
                pages = max(1, -(-total // per_page))
                seen = []
                for page in range(1, pages + 2):  # one past the last: clamped to the last
                    rows, shown = batch_list_page(db.session, filters, sort, page, per_page, total)
                    assert shown == min(page, pages)
                    got = [r[0] for r in rows]
                    assert got == _one_statement(filters, sort, shown, per_page) == \
                        _one_statement(filters, sort, shown, per_page, REFERENCE_SORT), (
                            key, extra, descending, per_page, page)
                    if page <= pages:
                        seen += got
                assert len(seen) == len(set(seen)) == total  # none twice, none skipped


def test_the_batches_of_no_patient_come_last_either_way(year):
    filters = dict(tz=clock.clinic_tz(), now=clock.now())
    total = sum(year.values())
    for descending in (False, True):
        rows, _ = batch_list_page(db.session, filters, Sort("patient", descending), 1, total, total)
        no_patient = [r[7] is None for r in rows]  # rows.read's patient_id
        assert no_patient == sorted(no_patient) and no_patient[-1] and not no_patient[0]
