"""The cocktail lists load only what they show (``services.list_options``): what they show
must be what the fully loaded cocktail gives, on a varied formulary (drafts pending,
retired cocktails, several versions, ingredients with and without strengths)."""

from __future__ import annotations

import re

from markupsafe import escape

from formulary.api.routes_cocktails import cocktail_json
from formulary.cocktails import services
from formulary.cocktails.models import Cocktail
from formulary.extensions import db
from formulary.scale import load_year
from tests.conftest import _empty_tables


def _full(ids):
    """Each cocktail as the API writes it, read on its own with every version,
    component, ingredient and user loaded (``get_cocktail``)."""
    db.session.expire_all()
    db.session.expunge_all()
    return {i: cocktail_json(services.get_cocktail(db.session, i), with_versions=False) for i in ids}


def test_the_lists_show_what_the_whole_cocktail_gives(app, api):
    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=0.002)
    db.session.commit()
    ids = db.session.execute(db.select(Cocktail.id)).scalars().all()
    statuses = set(db.session.execute(db.select(Cocktail.status)).scalars())
    assert len(ids) > 10 and {"active", "draft", "retired"} <= statuses

    client = api("pharmacist")
    user_id = client.user.get_id()
    listed = []
    for page in range(1, 20):
        r = client.get(f"cocktails?per_page=5&page={page}")
        assert r.status_code == 200, r.json
        listed += r.json["items"]
        if len(listed) >= r.json["total"]:
            break
    assert sorted(item["id"] for item in listed) == sorted(ids)
    full = _full(ids)
    for item in listed:
        assert item == full[item["id"]]

    # The page: each row's shown version and its ingredients' names, as the full cocktail
    db.session.expunge_all()
    html = client_page(app, user_id)  # a pharmacist sees every status
    for cocktail_id in ids:
        cocktail = services.get_cocktail(db.session, cocktail_id)
        version = services.shown_version(cocktail)
        names = ", ".join(c.ingredient.name for c in version.components)
        row = html[cocktail.name]
        assert f"v{version.number}" in row and str(escape(names)) in row, cocktail.name
    assert len(html) == len(ids)


def client_page(app, user_id) -> dict[str, str]:
    """The first page of ``/cocktails/`` seen by the user ``user_id``: each row's HTML by name."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user_id
        sess["_fresh"] = True
    text = client.get("/cocktails/").get_data(as_text=True)
    rows = re.findall(r'<tr data-cocktail="([^"]*)">(.*?)</tr>', text, flags=re.S)
    assert rows
    names = {str(escape(n)): n for n in db.session.execute(db.select(Cocktail.name)).scalars()}
    return {names.get(name, name): re.sub(r"\s+", " ", body) for name, body in rows}


def test_the_page_rows_choose_the_versions_the_objects_do(app):
    """``rows.listed_versions`` (the page's versions and names as plain rows) gives each
    cocktail the shown version and the pending draft that ``shown_version`` and
    ``pending_draft`` give over the fully loaded cocktail, with the shown version's
    ingredients in order; two statements for any number of cocktails."""
    from sqlalchemy import event

    from formulary.cocktails.rows import listed_versions

    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=0.002)
    db.session.commit()
    cocktails = db.session.execute(db.select(Cocktail).order_by(Cocktail.id)).scalars().all()
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rows = listed_versions(db.session, cocktails)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2 and listed_versions(db.session, []) == []
    seen_draft = seen_past = False
    for c, shown, draft in rows:
        full = services.get_cocktail(db.session, c.id)
        version, pending = services.shown_version(full), services.pending_draft(full)
        assert (shown.id, shown.number, shown.status, shown.area, shown.indication) == (
            version.id, version.number, version.status, version.area, version.indication)
        assert [x.ingredient.name for x in shown.components] == [
            x.ingredient.name for x in version.components]
        assert (draft and (draft.id, draft.number)) == (pending and (pending.id, pending.number))
        seen_draft |= draft is not None and draft.id != shown.id
        seen_past |= shown.id != full.versions[-1].id
    assert seen_draft and seen_past  # a draft pending beside the version in force
