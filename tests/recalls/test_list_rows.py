"""The batch list and the recall trace read as plain rows (``compounding.rows``) show
exactly what they showed read as ORM objects: the same JSON, the same states, the same
order for every sort, the same HTML and the same export rows. The "old" reads are
rebuilt here as they were (``batches_query``: ORM objects with their eager loads)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from types import SimpleNamespace

from flask import render_template_string, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice, SelectField
from wtforms.validators import Optional
from flask_login import login_user
from werkzeug.datastructures import MultiDict

from formulary import clock
from formulary.api.routes_compounding import batch_json
from formulary.compounding import services
from formulary.cocktails.models import Cocktail
from formulary.compounding.forms import FilterForm, LongSelect, _int_or_none
from formulary.compounding.labels import trace_sheets
from formulary.compounding.queries import (BATCH_SORT, LotTrace, batch_list_query, batches_query,
                                           traced_administrations)
from formulary.compounding.rows import read_page
from formulary.compounding.tables import url_writer
from formulary.compounding.state import state_of
from formulary.domain.listing import parse_sort
from formulary.extensions import db
from formulary.i18n import _l, datetime_writer, format_datetime_l, format_qty_l, qty_writer
from formulary.patients.models import Patient
from tests.compounding.reference_sort import REFERENCE_SORT
from tests.pages import without_csrf


def orm_batches(**filters) -> list:
    return list(db.session.execute(batches_query(**filters)).unique().scalars())


def row_batches(**filters) -> list:
    return read_page(db.session, db.session.execute(batch_list_query(**filters)).all())


def orm_trace(lot) -> LotTrace:
    """The recall trace as it was read before the plain rows: ORM batches and patients."""
    batches = orm_batches(lot_id=lot.id)
    administrations = [dataclasses.replace(a, patient=db.session.get(Patient, a.patient.id))
                       for a in traced_administrations(db.session, lot)]
    patients = {b.patient.id: b.patient for b in batches if b.patient is not None}
    for a in administrations:
        patients.setdefault(a.patient.id, a.patient)
    ordered = sorted(patients.values(),
                     key=lambda p: (p.last_name.casefold(), p.first_name.casefold(), p.id))
    return LotTrace(lot=lot, batches=batches, patients=ordered, administrations=administrations)


@pytest.fixture
def varied(reached, make_batch):
    """The recall fixture's batches (given, partly given, made for no one, never verified,
    another cocktail) and one more discarded."""
    b6 = make_batch(2, patient=reached["bea"])
    services.discard_batch(db.session, reached["pharmacist"], b6, "Dropped")
    reached["pharmacist"].full_name = "Paula Prepares"  # the checker has none: its username
    db.session.commit()
    return {**reached, "b6": b6}


def same_batches(app) -> list:
    with app.test_request_context("/"):
        old, new = orm_batches(), row_batches()
        assert [b.id for b in new] == [b.id for b in old] and len(new) == 6
        assert [batch_json(b) for b in new] == [batch_json(b) for b in old]
        now = clock.now()
        assert [state_of(b, now) for b in new] == [state_of(b, now) for b in old]
        for b in new:  # the rows carry what the lists show, to the patient's name
            orm = next(o for o in old if o.id == b.id)
            assert (b.patient.last_name if b.patient else None) == (
                orm.patient.last_name if orm.patient else None)
            assert b.prepared_by.display_name == orm.prepared_by.display_name
            assert b.verified_by == orm.verified_by or (
                b.verified_by.display_name == orm.verified_by.display_name)
        return [batch_json(b)["state"] for b in new]


def test_every_batch_reads_the_same_as_rows_as_as_objects(app, varied, recall_lot):
    states = same_batches(app)
    assert {"discarded", "verified", "prepared"} <= set(states)
    recall_lot(varied["lot"])
    db.session.expire_all()
    assert "on_hold" in same_batches(app)  # the lot's batches, now held


def test_the_filters_and_every_sort_give_the_same_batches_in_the_same_order(app, varied):
    with app.test_request_context("/"):
        for filters in ({}, {"lot_id": varied["lot"].id}, {"patient_id": varied["bea"].id},
                        {"status": "discarded"}, {"state": "on_hold", "now": clock.now()},
                        {"state": "verified", "now": clock.now()}):
            assert [b.id for b in row_batches(**filters)] == [b.id for b in orm_batches(**filters)]
        for key in BATCH_SORT.keys:
            for param in (key, "-" + key):
                sort = parse_sort(param, BATCH_SORT.keys, BATCH_SORT.default)
                old = db.session.execute(REFERENCE_SORT.apply(batches_query(), sort)).unique().scalars()
                new = db.session.execute(BATCH_SORT.apply(batch_list_query(), sort)).all()
                assert [r[0] for r in new] == [b.id for b in old], param


#: The batch list's template as it was before its rows were written in Python
#: (``tables.batch_list_rows``) and its cocktail filter by ``LongSelectField``.
BATCHES_BEFORE = (Path(__file__).parent / "batches_before.html").read_text(encoding="utf-8")


class _FilterFormBefore(FilterForm):
    """The batch filter as it was: wtforms' own select over ``SelectChoice``s."""

    cocktail_id = SelectField(_l("Cocktail"), coerce=_int_or_none, validators=[Optional()],
                              widget=LongSelect())

    def set_cocktails(self, cocktails) -> None:
        self.cocktail_id.choices = [SelectChoice("", _l("Any"))] + [
            SelectChoice(c.id, c.name) for c in cocktails]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_batch_list_page_is_what_the_template_wrote(app, varied, recall_lot, language):
    """The page (rows written in Python, each state from the held lots only, the long
    cocktail select) against the template as it was over the ORM objects with every
    line: every filter and order the form offers, a cocktail chosen, an unknown or bad
    one, before and after the lot's recall (batches on hold, with their reason)."""
    varied["b1"].override_reason = 'Patient <insisted> & "signed"'
    varied["b1"].cocktail.name = 'Lido & <b>mélange</b>'
    db.session.commit()
    cocktail = varied["b1"].cocktail_id
    queries = ("", f"?cocktail_id={cocktail}", "?cocktail_id=abc", "?cocktail_id=999999",
               "?state=on_hold", "?state=given", "?status=discarded&sort=-cocktail",
               "?sort=mrn", "?date_from=2099-01-01", f"?cocktail_id={cocktail}&state=expired")

    def old_page(query):
        form = _FilterFormBefore(request.args)
        form.set_cocktails(db.session.execute(
            select(Cocktail.id, Cocktail.name).order_by(Cocktail.name)).all())
        valid = form.validate()
        sort = parse_sort(request.args.get("sort"), BATCH_SORT.keys, BATCH_SORT.default)
        items = []
        if valid:
            filters = dict(tz=clock.clinic_tz(), date_from=form.date_from.data,
                           date_to=form.date_to.data, cocktail_id=form.cocktail_id.data,
                           status=form.status.data or None, state=form.state.data or None,
                           now=clock.now())
            items = list(db.session.execute(
                REFERENCE_SORT.apply(batches_query(**filters), sort)).unique().scalars())
        now = clock.now()
        return render_template_string(
            BATCHES_BEFORE, form=form, batches=items, total=len(items),
            states={b.id: state_of(b, now) for b in items}, page=1, per_page=50,
            sort=sort), 200 if valid else 422

    seen_held = False
    for recalled in (False, True):
        if recalled:
            recall_lot(varied["lot"])
            db.session.expire_all()
        for query in queries:
            with app.test_request_context(f"/batches{query}",
                                          headers={"Accept-Language": language}):
                login_user(varied["pharmacist"])
                new, new_code = app.view_functions["compounding.batches"]()
                old, old_code = old_page(query)
            assert (new_code, without_csrf(new)) == (old_code, without_csrf(old)), query
            assert f'<html lang="{language}"' in new
            seen_held |= 'data-state="on_hold"' in new
            if not recalled and query == "":
                assert "Lido &amp; &lt;b&gt;mélange&lt;/b&gt;" in new
                assert 'title="Patient &lt;insisted&gt; &amp; &#34;signed&#34;"' in new


def test_the_long_select_validates_as_wtforms_does(app):
    """``LongSelectField`` accepts and refuses what ``SelectField`` does, and writes the
    same ``<select>``."""
    cocktails = [SimpleNamespace(id=n, name=f"C{n} <&>") for n in (3, 1, 20)]
    for value in ("", "1", "20", "2", "abc", "0", "-1", "1.0", None):
        data = MultiDict() if value is None else MultiDict({"cocktail_id": value})
        with app.test_request_context("/batches"):
            new, old = FilterForm(data), _FilterFormBefore(data)
            new.set_cocktails(cocktails)
            old.set_cocktails(cocktails)
            assert new.validate() == old.validate(), value
            assert new.cocktail_id.errors == old.cocktail_id.errors, value
            assert new.cocktail_id.data == old.cocktail_id.data, value
            assert (new.cocktail_id(class_="form-select") ==
                    old.cocktail_id(class_="form-select")), value
            assert [tuple(c) for c in new.cocktail_id.iter_choices()] == [
                tuple(c) for c in old.cocktail_id.iter_choices()], value


def test_the_recall_trace_reads_and_renders_the_same(app, varied):
    lot = services.get_lot(db.session, varied["lot"].id)
    with app.test_request_context(f"/lots/{lot.id}/trace"):
        login_user(varied["pharmacist"])
        old, new = orm_trace(lot), services.trace_lot(db.session, lot)
        assert [b.id for b in new.batches] == [b.id for b in old.batches] and len(new.batches) == 5
        every = services.trace_lot(db.session, lot, every_line=True)
        assert [batch_json(b) for b in every.batches] == [batch_json(b) for b in old.batches]
        assert every.taken == new.taken == {b.id: [ln for ln in b.lines if ln.lot_id == lot.id]
                                            for b in every.batches}
        with pytest.raises(TypeError):  # the page's rows hold no lines: no state from them
            state_of(new.batches[0])
        assert [(p.id, p.mrn, p.first_name, p.last_name, p.date_of_birth) for p in new.patients] == [
            (p.id, p.mrn, p.first_name, p.last_name, p.date_of_birth) for p in old.patients]
        assert len(new.patients) == 3 and len(new.administrations) == 2
        for before, after in zip(trace_sheets(old), trace_sheets(new), strict=True):
            assert list(after.rows) == list(before.rows)


#: The recall trace's template as it was before its rows were written in Python
#: (``compounding.tables``): the page must still be what it rendered.
TRACE_BEFORE = (Path(__file__).parent / "trace_before.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("role", ["pharmacist", "manager"])
def test_the_recall_trace_page_is_what_the_template_wrote(app, varied, make_user, recall_lot,
                                                          language, role):
    """The page (its rows written in Python, per-request formats) against the template as
    it was over the ORM objects: in both languages, for a role that reads courses (the
    administrations' rows) and one that does not; before and after the lot's recall."""
    user = varied["pharmacist"] if role == "pharmacist" else make_user("manager")
    lot_id = varied["lot"].id
    for recalled in (False, True):
        if recalled:
            recall_lot(varied["lot"])
            db.session.expire_all()
        with app.test_request_context(f"/lots/{lot_id}/trace",
                                      headers={"Accept-Language": language}):
            login_user(user)
            lot = services.get_lot(db.session, lot_id)
            from formulary.recalls import services as recall_services

            html_old = render_template_string(
                TRACE_BEFORE, trace=orm_trace(lot),
                recall=recall_services.recall_of_lot(db.session, lot_id))
            html_new = app.view_functions["compounding.trace"](lot_id=lot_id)
        assert html_new == html_old
        assert html_new.count("<tr data-batch=") == 5 and varied["b1"].batch_number in html_new
        assert html_new.count("<tr data-administration=") == (2 if role == "pharmacist" else 0)
        assert f'<html lang="{language}"' in html_new
        assert ("trace-recall" in html_new) is recalled


def test_the_row_writers_write_what_the_filters_and_url_for_write(app):
    moments = [datetime(2027, 1, 1, tzinfo=timezone.utc) + timedelta(hours=7 * n, minutes=n)
               for n in range(0, 2000, 37)] + [None]
    quantities = [Decimal(t) for t in ("0", "2.5", "1234.56789", "0.00005", "100", "-3.25",
                                       "1E+3", "12345678.123456", "2.50000")] + [None]
    for language in ("en", "fr"):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            dt, qty = datetime_writer(), qty_writer()
            assert [dt(m) for m in moments] == [format_datetime_l(m) for m in moments]
            assert [qty(q) for q in quantities] == [format_qty_l(q) for q in quantities]
    for root in ("", "/clinic"):
        with app.test_request_context("/", base_url=f"http://x{root}"):
            batch, patient = (url_writer("compounding.batch", "batch_id"),
                              url_writer("patients.record", "patient_id"))
            for n in (1, 9, 10, 987654321, 2**31 - 1):
                assert batch(n) == url_for("compounding.batch", batch_id=n)
                assert patient(n) == url_for("patients.record", patient_id=n)
                assert batch(n).startswith(root + "/")


def old_trace_body(lot, trace, *, administrations: bool) -> dict:
    """The trace API's body as it was built before its text was written in parts."""
    from formulary.api.core import dec, iso
    from formulary.api.routes_compounding import traced_administration_json

    body = {"lot": {"id": lot.id, "ingredient_id": lot.ingredient_id,
                    "ingredient_name": lot.ingredient.name, "lot_number": lot.lot_number,
                    "expiry_date": iso(lot.expiry_date), "status": lot.status,
                    "quantity_on_hand": dec(lot.quantity_on_hand)},
            "batches": [batch_json(b) for b in trace.batches],
            "patients": [{"id": p.id, "mrn": p.mrn, "first_name": p.first_name,
                          "last_name": p.last_name} for p in trace.patients],
            "administration_count": len(trace.administrations)}
    if administrations:
        body["administrations"] = [traced_administration_json(a, clock.clinic_tz())
                                   for a in trace.administrations]
    return body


@pytest.mark.parametrize("role", ["pharmacist", "manager"])
def test_the_trace_api_answers_what_the_objects_gave(app, api, varied, recall_lot, role):
    """The same text, to the byte, as ``jsonify`` wrote for the body built from the ORM
    objects: with names that hold quotes, the text that marks a batch's lines and letters
    beyond ASCII; before and after the lot's recall (the batches' states)."""
    b1 = varied["b1"]
    b1.cocktail.name = 'Lido "lines":[] mélange'
    varied["ana"].last_name = 'O"Brien ]}'
    db.session.commit()
    client = api(role)
    lot_id = varied["lot"].id
    for recalled in (False, True):
        if recalled:
            recall_lot(varied["lot"])
            db.session.expire_all()
        r = client.get(f"lots/{lot_id}/trace")
        assert r.status_code == 200
        body = r.get_json()
        with app.test_request_context("/"):
            lot = services.get_lot(db.session, lot_id)
            old = old_trace_body(lot, orm_trace(lot), administrations=role == "pharmacist")
            assert r.get_data(as_text=True) == app.json.response(old).get_data(as_text=True)
        assert body["batches"] == old["batches"] and len(body["batches"]) == 5
        assert [p["id"] for p in body["patients"]] == [p["id"] for p in old["patients"]]
        assert body["administration_count"] == 2
        assert ("administrations" in body) is (role == "pharmacist")
        assert ("on_hold" in {b["state"] for b in body["batches"]}) is recalled
        assert 'Lido \\"lines\\":[] m\\u00e9lange' in r.get_data(as_text=True)  # escaped


def test_the_batch_list_api_answers_what_the_objects_gave(app, api, varied):
    client = api("pharmacist")
    for query in ("", "?sort=patient", "?sort=-cocktail&per_page=2&page=2", "?state=given",
                  f"?patient_id={varied['bea'].id}"):
        r = client.get("batches" + query)
        assert r.status_code == 200, query
        body = r.get_json()
        with app.test_request_context("/"):
            objects = {b.id: batch_json(b) for b in orm_batches()}
        assert body["items"] == [objects[b["id"]] for b in body["items"]], query
    assert client.get("batches").get_json()["total"] == 6

