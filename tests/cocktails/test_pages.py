"""The cocktail pages: editor (with its refusals on the fields), approve, retire,
versions, diff, patient sheet, the live-totals preview."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from formulary.cocktails import services
from formulary.cocktails.models import Cocktail, CocktailVersion
from tests.cocktails.conftest import cocktail_input, comp


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def form(shelf, rows, **kw):
    data = {"name": "Scalp revive", "area": "scalp", "indication": "hair loss", "storage": "fridge",
            "notes": ""}
    data.update(kw)
    for i, (ing, amount, unit) in enumerate(rows):
        data[f"components-{i}-ingredient_id"] = str(ing.id) if hasattr(ing, "id") else ing
        data[f"components-{i}-amount"] = amount
        data[f"components-{i}-unit"] = unit
    return data


def test_create_through_the_editor(client, login_as, shelf, session):
    login_as("pharmacist")
    page = client.get("/cocktails/new")
    assert page.status_code == 200 and "Biotin 5 mg/mL (mL, 5 mg/mL)" in page.text
    response = client.post_form("/cocktails/new", form(shelf, [
        (shelf.biotin, "10", "mg"), ("", "", "mg"), (shelf.zinc, "250", "mg")]))
    assert response.status_code == 302
    cocktail = session.execute(select(Cocktail)).scalar_one()
    assert [(c.ingredient_id, c.stock_quantity) for c in cocktail.versions[0].components] == \
        [(shelf.biotin.id, Decimal("2")), (shelf.zinc.id, Decimal("0.25"))]  # the empty row is ignored
    detail = client.get(response.headers["Location"])
    assert "Scalp revive" in detail.text and 'data-testid="approve"' in detail.text


def _error_of(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}".*?data-error-for="[^"]+">([^<]*)<', html, re.S)
    return match.group(1) if match else ""


def test_refusals_land_on_their_fields(client, login_as, shelf, session):
    login_as("pharmacist")
    cases = [
        (form(shelf, []), "Add at least one component", None),
        (form(shelf, [(shelf.biotin, "1", "mL"), (shelf.biotin, "2", "mL")]), "already in this cocktail",
         "components-1-ingredient_id"),
        (form(shelf, [(shelf.biotin, "-2", "mL")]), "must be positive", "components-0-amount"),
        (form(shelf, [(shelf.saline, "5", "mg")]), "no strength", "components-0-unit"),
        (form(shelf, [(shelf.zinc, "5", "IU")]), "cannot be converted", "components-0-unit"),
        (form(shelf, [(shelf.vit_d, "1", "mL")]), "cannot be converted", "components-0-unit"),
        (form(shelf, [(shelf.lidocaine, "11", "mL")]), "maximum dose", "components-0-amount"),
        (form(shelf, [(shelf.biotin, "1", "mL")], area="elbow"), "Unknown area", "area"),
    ]
    for data, message, field in cases:
        response = client.post_form("/cocktails/new", data)
        assert response.status_code == 422, message
        assert message in response.text
        if field is not None and field.startswith("components"):
            assert message in _error_of(response.text, field), field
    assert count(session, Cocktail) == 0


def test_a_taken_name_is_shown_on_the_name_field(client, login_as, shelf, session, pharmacist):
    services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.biotin, "1", "mL")))
    session.commit()
    login_as("pharmacist")
    response = client.post_form("/cocktails/new", form(shelf, [(shelf.biotin, "1", "mL")],
                                                       name="SCALP REVIVE"))
    assert response.status_code == 409
    assert 'data-error-for="name">The name is already taken' in response.text
    assert count(session, Cocktail) == 1


def test_show_totals_without_javascript(client, login_as, shelf, session, make_lot):
    make_lot(shelf.biotin, "9")
    make_lot(shelf.b12, "10")
    login_as("pharmacist")
    response = client.post_form("/cocktails/new", dict(form(shelf, [
        (shelf.biotin, "10", "mg"), (shelf.b12, "500", "mcg")]), totals="Show totals"),
        form_url="/cocktails/new")
    assert response.status_code == 200
    assert 'data-testid="total-volume">2.5 mL' in response.text
    assert 'data-testid="doses-possible">4<' in response.text  # 9 mL of biotin / 2 mL
    assert count(session, Cocktail) == 0


def test_approve_edit_and_retire_through_the_pages(client, login_as, shelf, session, pharmacist):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.biotin, "10", "mg")))
    session.commit()
    cid = cocktail.id
    login_as("pharmacist")
    url = f"/cocktails/{cid}"
    assert client.post_form(f"{url}/approve", {}, form_url=url).status_code == 302
    session.expire_all()
    assert session.get(Cocktail, cid).status == "active"

    edit = client.get(f"{url}/edit")
    assert 'value="10"' in edit.text
    saved = client.post_form(f"{url}/edit", form(shelf, [(shelf.biotin, "5", "mg")], name="Scalp revive"))
    assert saved.status_code == 302
    session.expire_all()
    assert [v.status for v in session.get(Cocktail, cid).versions] == ["active", "draft"]
    detail = client.get(url)
    assert "Draft" in detail.text and "awaits approval" in detail.text

    diff = client.get(f"{url}/diff?a=1&b=2")
    assert diff.status_code == 200 and 'data-kind="changed" data-ingredient="Biotin 5 mg/mL"' in diff.text

    assert client.post_form(f"{url}/retire", {"retire-reason": "obsolete"}, form_url=url).status_code == 302
    session.expire_all()
    assert session.get(Cocktail, cid).status == "retired"
    # a retired cocktail: no approve, no edit
    refused = client.post_form(f"{url}/approve", {}, form_url=url)
    assert refused.status_code == 409 and "retired" in refused.text
    assert client.get(f"{url}/edit").status_code == 302
    assert client.post_form(f"{url}/edit", form(shelf, [(shelf.biotin, "5", "mg")]),
                            form_url=url).status_code == 302
    session.expire_all()
    assert count(session, CocktailVersion) == 2


def test_approving_an_active_one_is_refused_on_the_page(client, login_as, make_cocktail, shelf, session):
    cocktail = make_cocktail([(shelf.biotin, "1", "mL")])
    login_as("pharmacist")
    url = f"/cocktails/{cocktail.id}"
    response = client.post_form(f"{url}/approve", {}, form_url=url)
    assert response.status_code == 409 and "no draft version to approve" in response.text


def test_practitioners_browse_active_cocktails_and_read_the_sheet(client, login_as, make_cocktail, shelf):
    active = make_cocktail([(shelf.biotin, "10", "mg"), (shelf.saline, "3", "mL")], name="Scalp A")
    make_cocktail([(shelf.biotin, "1", "mL")], name="Draft B", status="draft")
    login_as("practitioner")
    page = client.get("/cocktails/?status=draft")
    assert "Scalp A" in page.text and "Draft B" not in page.text  # practitioners see active ones
    assert "New cocktail" not in page.text
    detail = client.get(f"/cocktails/{active.id}")
    assert 'data-testid="approve"' not in detail.text and 'data-testid="edit"' not in detail.text
    sheet = client.get(f"/cocktails/{active.id}/sheet")
    assert sheet.status_code == 200
    assert "One dose is <strong>5 mL</strong>" in sheet.text   # 2 mL biotin + 3 mL saline
    assert "2 mg per mL" in sheet.text                          # 10 mg in 5 mL
    assert client.get(f"/cocktails/{active.id}/edit").status_code == 403


def test_the_list_filters(client, login_as, make_cocktail, shelf):
    make_cocktail([(shelf.biotin, "1", "mL")], name="Scalp A", area="scalp")
    make_cocktail([(shelf.biotin, "1", "mL")], name="Face B", area="face", indication="glow")
    login_as("pharmacist")
    assert "Face B" not in client.get("/cocktails/?area=scalp").text
    assert "Scalp A" not in client.get("/cocktails/?q=glow").text


def test_the_list_runs_a_constant_number_of_queries(client, login_as, make_cocktail, shelf, count_queries):
    login_as("pharmacist")
    make_cocktail([(shelf.biotin, "1", "mL")])
    with count_queries() as few:
        client.get("/cocktails/")
    for _ in range(5):
        make_cocktail([(shelf.biotin, "1", "mL"), (shelf.b12, "1", "mg")])
    with count_queries() as many:
        client.get("/cocktails/")
    assert many.count == few.count


def test_the_preview_gives_live_totals(client, login_as, shelf, make_lot):
    make_lot(shelf.biotin, "20")
    make_lot(shelf.b12, "1")
    login_as("pharmacist")
    token = client.csrf_token("/cocktails/new")
    response = client.post("/cocktails/preview", headers={"X-CSRFToken": token}, json={"components": [
        {"row": 0, "ingredient_id": str(shelf.biotin.id), "amount": "10", "unit": "mg"},
        {"row": 3, "ingredient_id": str(shelf.b12.id), "amount": "500", "unit": "mcg"},
        {"row": 4, "ingredient_id": str(shelf.saline.id), "amount": "5", "unit": "mg"},
        {"row": 5, "ingredient_id": "", "amount": "", "unit": "mg"}]})
    assert response.status_code == 200
    data = response.json
    assert [(l["row"], l["stock_quantity"], l["concentration"]) for l in data["lines"]] == \
        [(0, "2", "4"), (3, "0.5", "0.2")]
    assert data["total_volume_ml"] == "2.5"
    assert data["doses_possible"] == 2  # 1 mL of B12 / 0.5 mL
    assert list(data["errors"]) == ["components.4.unit"]


def test_the_preview_needs_the_csrf_token_and_a_body(client, login_as):
    login_as("pharmacist")
    assert client.post("/cocktails/preview", json={"components": []}).status_code == 400
    token = client.csrf_token("/cocktails/new")
    assert client.post("/cocktails/preview", headers={"X-CSRFToken": token},
                       data="nope").status_code == 400
