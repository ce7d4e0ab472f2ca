"""The longest free texts: the same limit in the form, the service (API) and the database
(issue 16). The database refuses a longer text however it is written (a CHECK made by
the models; after the migration, a CHECK on PostgreSQL and triggers on SQLite)."""

from __future__ import annotations

import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from formulary.extensions import db
from tests import tools
from tests.conftest import make_app

# (table, column, longest)
LIMITS = [("patient", "notes", 2000), ("batch", "override_reason", 2000),
          ("batch", "discard_reason", 2000), ("lot", "status_reason", 500),
          ("ingredient", "notes", 4000), ("allergen_group", "description", 2000),
          ("cocktail_version", "notes", 2000)]


def test_services_forms_and_database_agree():
    from formulary.cocktails import forms as cocktail_forms
    from formulary.cocktails import services as cocktail_services
    from formulary.compounding import forms as batch_forms
    from formulary.compounding import services as batch_services
    from formulary.inventory import allergens, ingredients, lots
    from formulary.inventory import forms as inventory_forms
    from formulary.patients import forms as patient_forms

    def form_max(form_class, name):
        field = getattr(form_class, name)
        return next(v.max for v in field.kwargs["validators"] if hasattr(v, "max"))

    assert form_max(patient_forms.PatientForm, "notes") == 2000
    assert batch_services.MAX_REASON == form_max(batch_forms.ConfirmForm, "override_reason") == 2000
    assert form_max(batch_forms.DiscardForm, "reason") == 2000
    assert lots.REASON_MAX == form_max(inventory_forms.StatusForm, "reason") == 500
    assert ingredients.NOTES_MAX == form_max(inventory_forms.IngredientForm, "notes") == 4000
    assert allergens.DESCRIPTION_MAX == form_max(inventory_forms.AllergenGroupForm, "description") == 2000
    assert cocktail_services.NOTES_MAX == form_max(cocktail_forms.CocktailForm, "notes") == 2000
    for table, column, longest in LIMITS:
        constraint = next(c for c in db.metadata.tables[table].constraints
                          if c.name == f"ck_{table}_{column}_length")
        assert str(constraint.sqltext) == f"length({column}) <= {longest}"


def _too_long(conn, table, column, longest):
    """Write ``longest`` then ``longest + 1`` characters into one row's column."""
    row_id = conn.execute(text(f"SELECT id FROM {table} ORDER BY id LIMIT 1")).scalar_one()
    conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                 {"v": "é" * longest, "id": row_id})   # characters, not bytes
    with pytest.raises(IntegrityError):
        with conn.begin_nested():
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                         {"v": "x" * (longest + 1), "id": row_id})


@pytest.fixture
def rows(make_ingredient, make_lot, make_cocktail, make_patient, make_group, make_batch):
    ing = make_ingredient("Biotin")
    lot = make_lot(ing, "10")
    cocktail = make_cocktail([(ing, "1", "mL")])
    make_patient("MRN-L")
    make_group("latex")
    make_batch(cocktail, [(lot, "1")])


@pytest.mark.parametrize("table, column, longest", LIMITS)
def test_the_database_refuses_longer_text(app, rows, table, column, longest):
    with db.engine.connect() as conn:
        with conn.begin():
            _too_long(conn, table, column, longest)


def test_a_service_refuses_longer_notes_and_writes_nothing(api, make_patient):
    patient = make_patient("MRN-N")
    client = api("practitioner")
    resp = client.patch(f"patients/{patient.id}", json={"notes": "x" * 2001, "reason": "typo"})
    assert resp.status_code == 422 and "notes" in resp.get_json()["error"]["fields"]
    assert client.patch(f"patients/{patient.id}", json={"notes": "x" * 2000, "reason": "ok"}
                        ).status_code == 200


def _migrated_refuses(url):
    app = make_app(url)
    with app.app_context():
        try:
            _check_migrated()
        finally:
            db.session.remove()
            db.engine.dispose()


def _check_migrated():
    upgrade(directory="migrations")
    with db.engine.connect() as conn:
        with conn.begin():
            conn.execute(text("INSERT INTO allergen_group (id, name, name_key, description) "
                              "VALUES (1, 'latex', 'latex', '')"))
            conn.execute(text("INSERT INTO patient (id, mrn, first_name, last_name, allergy_status, "
                              "notes, created_at, updated_at) VALUES (1, 'M', 'A', 'B', 'unknown', '', "
                              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            _too_long(conn, "allergen_group", "description", 2000)
            _too_long(conn, "patient", "notes", 2000)
        with pytest.raises(IntegrityError):   # an INSERT too
            with conn.begin():
                conn.execute(text("INSERT INTO patient (id, mrn, first_name, last_name, "
                                  "allergy_status, notes, created_at, updated_at) VALUES (2, 'N', "
                                  "'A', 'B', 'unknown', :v, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                             {"v": "x" * 2001})


def test_migrated_sqlite_refuses_longer_text(tmp_path):
    _migrated_refuses(f"sqlite:///{tmp_path / 'limits.db'}")


@pytest.mark.postgres
def test_migrated_postgresql_refuses_longer_text():
    if not tools.POSTGRES_ADMIN_URL:
        pytest.skip(tools.POSTGRES_ADMIN_SKIP)
    name = f"formulary_limits_{uuid.uuid4().hex[:8]}"
    admin = create_engine(tools.POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _migrated_refuses(tools.POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
