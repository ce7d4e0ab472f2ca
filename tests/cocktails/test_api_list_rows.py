"""The API's cocktail list from plain rows (``rows.api_listed``,
``composition.version_component_rows``) and kept composition texts
(``routes_cocktails._composition_text``): the same bytes as ``jsonify`` writes for the
fully loaded cocktails through ``cocktail_json``, and never a stale composition."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import jsonify
from sqlalchemy import create_engine, event, text

from formulary.api.core import paginate
from formulary.api.routes_cocktails import cocktail_json
from formulary.cocktails import revision, services
from formulary.cocktails.composition import version_component_rows
from formulary.cocktails.models import Cocktail, CocktailVersion
from formulary.cocktails.rows import LISTED_COLUMNS, api_listed
from formulary.extensions import db
from formulary.scale import load_year
from tests.conftest import _empty_tables, database_other_processes_open

QUERIES = (
    "", "per_page=500", "page=2", "page=99", "per_page=7&page=3", "per_page=1&page=4",
    "per_page=3&sort=-name", "per_page=500&sort=status", "per_page=500&sort=-status",
    "per_page=500&sort=area", "per_page=500&sort=-area", "per_page=500&sort=indication",
    "per_page=500&sort=-indication", "per_page=500&sort=created_at",
    "per_page=500&sort=-created_at", "area=face&per_page=500", "area=scalp&sort=-name",
    "status=draft", "status=retired", "status=active&per_page=500", "q=a&per_page=500",
    "q=%C3%A9t%C3%A9", "q=zzzz", "q=%22components", "area=face&status=active&q=e&sort=-area",
)


def _orm_body(query: str) -> bytes:
    """The list as it was written: the page's cocktails as objects with every version,
    component, ingredient and user loaded, each through ``cocktail_json``; ``jsonify``."""
    args = {k: v[0] for k, v in parse_qs(query).items()}
    stmt = services.list_statement(area=args.get("area"), status=args.get("status"),
                                   q=args.get("q")).options(*services.loaded_options())
    body = paginate(stmt, lambda c: cocktail_json(c, with_versions=False),
                    sort=services.COCKTAIL_SORT)
    return jsonify(body).get_data()


def _odd_cocktail(make_ingredient, make_cocktail):
    """A draft cocktail whose texts hold what JSON escapes, non-ASCII letters and the
    very text the list splits its body on."""
    vit = make_ingredient('Vitamine "C" <été> 💧', strength=(Decimal("500"), "mg"))
    plain = make_ingredient("Eau\tstérile \\ \u2028")
    cocktail = make_cocktail([(vit, "1.5", "mL"), (plain, "2", "mL")],
                             name='Été "components":[] <b>', area="face",
                             indication='"components":[] été', status="draft")
    cocktail.versions[0].notes = 'line\n"components":[]\\"'
    db.session.commit()
    return cocktail


def test_the_api_list_is_what_the_loaded_cocktails_give(app, api, make_ingredient,
                                                        make_cocktail):
    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=0.002)
    db.session.commit()
    _odd_cocktail(make_ingredient, make_cocktail)
    statuses = set(db.session.execute(db.select(Cocktail.status)).scalars())
    assert {"active", "draft", "retired"} <= statuses
    client = api("pharmacist")
    for query in QUERIES:
        for language in ("en", "fr"):
            response = client.get(f"cocktails?{query}", headers={"Accept-Language": language})
            assert response.status_code == 200, (query, response.json)
            assert response.mimetype == "application/json"
            with app.test_request_context(f"/api/v1/cocktails?{query}"):
                db.session.expire_all()
                assert response.get_data() == _orm_body(query), (query, language)
    # the splice point and the odd texts came through as they were
    odd = client.get("cocktails?q=%22components").json["items"]
    assert [item["name"] for item in odd] == ['Été "components":[] <b>']
    assert odd[0]["notes"] == 'line\n"components":[]\\"' and len(odd[0]["components"]) == 2


def test_debug_json_is_written_the_plain_way(app, api, make_ingredient, make_cocktail):
    """In debug, ``jsonify`` indents: the list is then written as a dict, not spliced."""
    _odd_cocktail(make_ingredient, make_cocktail)
    client = api("pharmacist")
    app.json.compact = False
    try:
        response = client.get("cocktails")
        with app.test_request_context("/api/v1/cocktails"):
            db.session.expire_all()
            assert response.get_data() == _orm_body("")
    finally:
        app.json.compact = None
    assert b"\n  " in response.get_data()


def test_the_rows_are_read_in_one_statement_each(app, count_queries):
    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=0.002)
    db.session.commit()
    cocktails = db.session.execute(services.list_statement(columns=LISTED_COLUMNS)).all()
    with count_queries() as statements:
        listed = api_listed(db.session, cocktails)
        rows, token = version_component_rows(db.session, [item.shown.id for item in listed])
    assert statements.count == 2
    assert api_listed(db.session, []) == []
    assert version_component_rows(db.session, []) == ({}, None)
    assert len(listed) == len(cocktails) > 10 and all(rows[item.shown.id] for item in listed)
    assert token == revision.token(db.session) == listed[0].shown.revision is not None


@pytest.fixture
def shared_database(backend, tmp_path, request):
    yield from database_other_processes_open(backend, tmp_path, request, "cocktail_list.db")


def test_a_change_committed_by_another_process_is_listed_at_once(shared_database):
    """The kept composition texts are kept by every value they are written from: an
    ingredient renamed, given another strength, or a draft's dose changed by another
    process (its own connection, nothing of this app) is in the next list."""
    from formulary.auth import services as auth
    from formulary.auth.models import User
    from formulary.cocktails.models import Component
    from formulary.inventory.models import Ingredient

    app, url = shared_database
    user = User(username="reader", role="pharmacist", full_name="Reader")
    user.set_password("correct horse battery")
    ing = Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL",
                     strength_amount=Decimal(5), strength_unit="mg", storage="room")
    cocktail = Cocktail(name="Hair drip", name_key="hair drip", status="draft")
    version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", indication="",
                              storage="fridge", status="draft")
    version.components.append(Component(ingredient=ing, position=0, amount=Decimal(2),
                                        unit="mL", stock_quantity=Decimal(2), stock_unit="mL"))
    db.session.add_all([user, ing, cocktail, version])
    db.session.flush()
    token, _ = auth.create_token(db.session, user, days=1)
    db.session.commit()
    ing_id, version_id = ing.id, version.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    statements = []

    def count(*_args):
        statements.append(1)

    def listed() -> dict:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = client.get("/api/v1/cocktails", headers=headers)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.json
        db.session.remove()  # the request ran in this app context: its transaction ends
        [item] = [i for i in response.json["items"] if i["name"] == "Hair drip"]
        return item["components"][0]

    first = listed()
    assert listed() == first == {
        "ingredient_id": ing_id, "ingredient_name": "Biotin", "amount": "2", "unit": "mL",
        "stock_quantity_per_dose": "2", "stock_unit": "mL",
        "concentration": {"amount": "5", "unit": "mg"}}
    kept = len(statements)  # the composition kept: its components not read again
    other = create_engine(url)
    try:
        with other.begin() as conn:
            conn.execute(text("UPDATE ingredient SET name = 'Biotin B7', strength_amount = 10 "
                              "WHERE id = :id"), {"id": ing_id})
        seen = listed()
        assert (seen["ingredient_name"], seen["concentration"]) == (
            "Biotin B7", {"amount": "10", "unit": "mg"})
        assert len(statements) == kept + 1  # read again, at the new revision
        assert listed() == seen and len(statements) == kept
        with other.begin() as conn:
            conn.execute(text("UPDATE component SET amount = 3, stock_quantity = 3 "
                              "WHERE version_id = :id"), {"id": version_id})
        seen = listed()
        assert (seen["amount"], seen["stock_quantity_per_dose"]) == ("3", "3")
    finally:
        other.dispose()
