"""The recall trace reads the driver's rows (``db.DriverSelect``; on PostgreSQL its batches
chosen in a subquery), writes the lines' JSON by one encoding and translates the reasons
once (``i18n.tr_once``): each gives what the plain way gave. The trace API's text and the
pages against the ORM objects: ``test_list_rows``."""

from __future__ import annotations

import json

import pytest
from flask import current_app
from flask_babel import force_locale

from sqlalchemy import select

from formulary import clock
from formulary.api.core import json_encoder
from formulary.api.routes_compounding import _objects_text
from formulary.compounding.models import BatchLine
from formulary.compounding.queries import _statements_for
from formulary.compounding.rows import distinct_lines_of, lines_of
from formulary.db import converted
from formulary.domain.batch_state import LotFact, batch_state
from formulary.domain.messages import LowerFirst, code, msg
from formulary.extensions import db
from formulary.i18n import tr, tr_once
from tests.recalls.test_list_rows import varied  # noqa: F401


def test_the_driver_rows_converted_are_what_the_session_gives(app, varied, recall_lot):
    """The trace's three statements (batches, every line, administrations), read as the
    driver gives them and converted by each column's processor: the rows SQLAlchemy gives
    (datetimes aware, quantities ``Decimal``, dates ``date``), before and after a recall."""
    lot_id = varied["lot"].id
    for recalled in (False, True):
        if recalled:
            recall_lot(varied["lot"])
        statements = _statements_for(db.session)
        for name in ("batches", "lines", "administrations"):
            select_ = getattr(statements, name)
            typed = db.session.execute(select_.statement.with_only_columns(
                *select_.columns, maintain_column_froms=True), {"lot_id": lot_id}).all()
            raw, converters = select_.rows(db.session, {"lot_id": lot_id})
            assert converted(raw, converters) == [tuple(r) for r in typed], name
            assert typed, name


def test_the_distinct_lines_are_the_lines_each_batch_had(app, varied):
    """``distinct_lines_of``: each batch's lines, in order, equal to ``lines_of``'s, the
    lines alike one object (fewer objects than lines when batches share a cocktail)."""
    lot_id = varied["lot"].id
    of_the_lot = select(BatchLine.batch_id).where(BatchLine.lot_id == lot_id)
    statements = _statements_for(db.session)
    by_batch, distinct = distinct_lines_of(db.session, statements.lines, statements.lots,
                                           {"lot_id": lot_id})
    plain = lines_of(db.session, of_the_lot)
    assert set(by_batch) == set(plain) and len(plain) == 5
    for batch_id, lines in plain.items():
        assert tuple(distinct[i] for i in by_batch[batch_id]) == lines
    assert len(distinct) < sum(len(v) for v in by_batch.values())
    assert len(set(map(id, distinct))) == len(distinct) == len(set(distinct))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_reasons_translated_once_are_what_tr_says(app, language):
    """``tr_once`` against ``tr`` for every reason a batch state gives (lots held with
    codes inside, doses given), a lowered sentence, a tuple and a lazy text; the same
    English text from two templates is not mixed up."""
    now = clock.now()
    held = (LotFact("L1", "recalled", "Biotin"), LotFact("L2", "quarantined", "Lidocaine"))
    states = [batch_state(status=s, beyond_use_at=now, now=now, doses=3, lots=lots, doses_given=g)
              for s in ("prepared", "verified", "discarded") for g in (0, 1, 3)
              for lots in ((), held[:1], held)]
    messages = [st.reason for st in states] + [
        LowerFirst(msg("Every dose has been given.")), (code("recalled"), "recalled"),
        code("quarantined"), "quarantined", msg("%(n)s of %(m)s doses given.", n=1, m=3),
        msg("%(given)s of %(doses)s doses given.", given=1, doses=3), 3, None, ""]
    with app.test_request_context("/"), force_locale(language):
        say = tr_once()
        for _ in range(2):  # the second time from what was remembered
            assert [say(m) for m in messages] == [tr(m) for m in messages]


def test_the_lines_json_by_one_encoding_is_each_ones(app):
    """``_objects_text`` writes each object as the encoder does, also when a string holds
    the text that separates two of them."""
    with app.test_request_context("/"):
        encode = json_encoder()
        objects = [{"name": "Biotin", "quantity": "1.5", "lot": 3},
                   {"name": 'A},{"b" mélange', "quantity": "2", "lot": None},
                   {"name": "", "quantity": "0.25", "lot": 4}]
        assert _objects_text(encode, objects) == [encode(o) for o in objects]
        assert _objects_text(encode, objects[::2]) == [encode(o) for o in objects[::2]]
        assert _objects_text(encode, []) == []
        assert [json.loads(t) for t in _objects_text(encode, objects)] == objects
        assert current_app.json.compact is not False


def _trace_lines(client, lot_id) -> list[dict]:
    r = client.get(f"lots/{lot_id}/trace")
    assert r.status_code == 200, r.get_json()
    return [line for b in r.get_json()["batches"] for line in b["lines"]]


def test_a_line_changed_by_another_process_is_written_anew(app, api, varied):
    """The trace API keeps each distinct line's JSON text by the line's values
    (``routes_compounding._line_texts``): a change another process commits to what a line
    shows (its ingredient's name, its lot's number and expiry) is in the next answer,
    and the answer is the plain one (``test_list_rows``) before and after."""
    from datetime import timedelta

    from sqlalchemy import create_engine, update

    from formulary.inventory.models import Ingredient, Lot

    client = api("pharmacist")
    lot = varied["lot"]
    lot_id, ingredient_id, number = lot.id, lot.ingredient_id, lot.lot_number
    expiry = lot.expiry_date + timedelta(days=30)
    first = _trace_lines(client, lot_id)
    assert _trace_lines(client, lot_id) == first  # written from the kept texts
    assert {line["lot_number"] for line in first if line["lot_id"] == lot_id} == {number}
    changes = (update(Ingredient).where(Ingredient.id == ingredient_id)
               .values(name="Lidocaine 2% (renamed)"),
               update(Lot).where(Lot.id == lot_id)
               .values(lot_number="LID-1-CORRECTED", expiry_date=expiry))
    if db.engine.dialect.name == "postgresql":  # by a connection of another engine
        other = create_engine(db.engine.url.render_as_string(hide_password=False))
        try:
            with other.begin() as connection:
                for change in changes:
                    connection.execute(change)
        finally:
            other.dispose()
    else:  # the test database is in memory: one connection, written by Core, not the ORM
        for change in changes:
            db.session.connection().execute(change)
        db.session.commit()
    db.session.expire_all()
    after = _trace_lines(client, lot_id)
    ours = [line for line in after if line["lot_id"] == lot_id]
    assert ours and len(after) == len(first)
    assert {(line["ingredient_name"], line["lot_number"], line["expiry_date"]) for line in ours} == {
        ("Lidocaine 2% (renamed)", "LID-1-CORRECTED", expiry.isoformat())}
    assert [line for line in after if line["lot_id"] != lot_id] == [
        line for line in first if line["lot_id"] != lot_id]


def test_the_kept_line_texts_are_bounded(app, api, varied, make_batch, monkeypatch):
    """Past ``LINE_TEXTS_KEPT`` texts a worker starts again: answers stay whole and the
    same, and the store holds no more than the cap or one answer's distinct lines."""
    from formulary.api import routes_compounding

    monkeypatch.setattr(routes_compounding, "LINE_TEXTS_KEPT", 2)
    app.extensions.pop(routes_compounding._LINE_TEXTS, None)
    client = api("pharmacist")
    lot_id = varied["lot"].id
    first = _trace_lines(client, lot_id)
    distinct = {json.dumps(line, sort_keys=True) for line in first}
    assert len(distinct) > 2
    store = app.extensions[routes_compounding._LINE_TEXTS]
    assert len(store) == len(distinct)
    for _ in range(2):
        assert _trace_lines(client, lot_id) == first
        assert len(store) <= len(distinct)


def test_a_line_whose_ingredient_is_not_its_lots_is_named_by_its_own(app, varied):
    """``distinct_lines_of`` reads a lot's ingredient's name with the lot; a line whose
    ingredient is another (never written so, but read exactly) is named by its own, as
    the joined statement (``lines_of``) names it."""
    from sqlalchemy import update

    lot = varied["lot"]
    other = varied["b5"].lines[0].ingredient_id  # biotin
    assert other != lot.ingredient_id
    line_id = next(line.id for line in varied["b1"].lines if line.lot_id == lot.id)
    db.session.execute(update(BatchLine).where(BatchLine.id == line_id).values(ingredient_id=other))
    statements = _statements_for(db.session)
    by_batch, distinct = distinct_lines_of(db.session, statements.lines, statements.lots,
                                           {"lot_id": lot.id})
    plain = lines_of(db.session, select(BatchLine.batch_id).where(BatchLine.lot_id == lot.id))
    for batch_id, lines in plain.items():
        assert tuple(distinct[i] for i in by_batch[batch_id]) == lines
    odd = [line for line in distinct if line.lot_id == lot.id and line.ingredient_id == other]
    assert len(odd) == 1 and odd[0].ingredient.name == varied["b5"].lines[0].ingredient.name
    db.session.rollback()


def test_the_trace_reuses_its_plans_and_what_follows_is_planned_for_its_values(
        app, backend, reached):
    """PostgreSQL: the trace's statements (``db.generic_plans``), run again and again on
    one connection, are prepared and run on one generic plan each, and give the same
    answer; a statement run after them (the held-lot count, whose generic plan is the
    slow one) is still planned for its values."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's plans")
    from sqlalchemy import text

    from formulary.compounding.dashboard import held_and_expired
    from formulary.compounding.queries import trace_lot

    lot = reached["lot"]
    connection = db.session.connection()  # prepared statements belong to the connection
    answers = {repr(trace_lot(db.session, lot, every_line=True)) for _ in range(12)}
    assert len(answers) == 1
    for _ in range(12):
        held_and_expired(db.session, clock.now())
    plans = dict(connection.execute(text(
        "SELECT CASE WHEN statement LIKE '%batch_tally%' THEN 'held' ELSE 'trace' END, "
        "sum(generic_plans) FROM pg_prepared_statements WHERE statement LIKE '%batch_tally%' "
        "OR statement LIKE '%administration_line.lot_id%' GROUP BY 1")).all())
    assert int(plans["trace"]) > 0, "the trace's statements were not prepared and reused"
    assert int(plans["held"]) == 0
    assert connection.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"


def test_a_line_whose_ingredient_is_on_no_lot_read_is_named_by_a_statement_of_its_own(
        app, varied, make_ingredient):
    """The third statement of ``distinct_lines_of``: a line's ingredient that none of the
    lots read holds (never written so, but read exactly) has its name read apart."""
    from sqlalchemy import update

    lot = varied["lot"]
    stray = make_ingredient("Stray ingredient")
    line_id = next(line.id for line in varied["b1"].lines if line.lot_id == lot.id)
    db.session.execute(update(BatchLine).where(BatchLine.id == line_id)
                       .values(ingredient_id=stray.id))
    statements = _statements_for(db.session)
    by_batch, distinct = distinct_lines_of(db.session, statements.lines, statements.lots,
                                           {"lot_id": lot.id})
    plain = lines_of(db.session, select(BatchLine.batch_id).where(BatchLine.lot_id == lot.id))
    for batch_id, lines in plain.items():
        assert tuple(distinct[i] for i in by_batch[batch_id]) == lines
    odd = [line for line in distinct if line.ingredient_id == stray.id]
    assert len(odd) == 1 and odd[0].ingredient.name == "Stray ingredient"
    db.session.rollback()
