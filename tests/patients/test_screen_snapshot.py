"""The formulary the picker screens against, kept under the formulary revision: read once,
and never served once any write to what it holds has committed, by whatever means."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.sql.util import find_tables

from formulary.cocktails import revision
from formulary.cocktails.models import Cocktail
from formulary.extensions import db
from formulary.inventory.models import AllergenGroup, CrossReactivity, IngredientContraindication
from formulary.patients import screen_snapshot, screening
from formulary.patients.screening import formulation_page
from tests.conftest import PG_URL, make_app


def _picker(session, patient, area=None):
    """What the picker shows: every cocktail, its verdict, findings and ingredients."""
    page = formulation_page(session, patient, area)
    return [(fr.cocktail.name, fr.version.number, fr.version.area, fr.verdict, fr.findings,
             tuple((i.name, i.groups, i.contraindications) for i in fr.ingredients))
            for fr in page.items], page.counts


def _uncached(session, patient, area=None):
    """The same, the formulary read from the database now (nothing kept)."""
    store = screen_snapshot._STORE
    from flask import current_app

    kept = current_app.extensions.pop(store, None)
    try:
        return _picker(session, patient, area)
    finally:
        current_app.extensions.pop(store, None)
        if kept is not None:
            current_app.extensions[store] = kept


def _kept():
    from flask import current_app

    return current_app.extensions.get(screen_snapshot._STORE, {}).get("snapshot")


def test_the_formulary_is_read_once_per_revision(session, clinic, make_patient, count_queries):
    patient = make_patient(allergies=[{"group": "paraben"}])
    screen_snapshot.current(session)  # the worker's one check of the triggers, done
    session.execute(text("UPDATE allergen_group SET description = description"))
    session.commit()
    patient.allergy_status  # loaded again after the commit, before counting
    with count_queries() as cold:
        first = _picker(session, patient)
    with count_queries() as warm:
        second = _picker(session, patient)
    assert first == second
    assert _kept() is not None and _kept().token == revision.token(session)
    read = [s for s in cold.statements if "cocktail_version" in s or "cross_reactivity" in s]
    assert len(read) == 2  # the cocktails with their components; the cross-reactivity table
    assert not [s for s in warm.statements if "cocktail_version" in s or "cross_reactivity" in s]
    # Warm: the revision's token, the patient's allergies and conditions. Cold: also the
    # formulary's three statements and the token again (SQLite's BEGIN aside).
    statements = [[s for s in n.statements if not s.startswith("BEGIN")] for n in (warm, cold)]
    assert [len(s) for s in statements] == [3, 7], statements


def test_the_snapshot_is_immutable(session, clinic, make_patient):
    _picker(session, make_patient())
    snapshot = _kept()
    with pytest.raises(TypeError):
        snapshot.ingredients[0] = None
    with pytest.raises(TypeError):
        snapshot.by_area["scalp"] = ()
    with pytest.raises(AttributeError):
        snapshot.cocktails[0].name = "Other"
    assert isinstance(snapshot.cocktails, tuple) and isinstance(snapshot.in_use[None], frozenset)


def test_the_watched_tables_are_those_the_screen_reads():
    read = set()
    for statement in (*screen_snapshot._COCKTAILS.values(), screen_snapshot._INGREDIENTS,
                      screen_snapshot._CROSS_REACTIVITY, screening._ALLERGIES):
        for table in find_tables(statement, include_aliases=True):
            name = getattr(getattr(table, "element", table), "name", None)
            if name is not None:  # not a subquery (whose tables are found in it)
                read.add(name)
    read -= {"allergy"}  # the patient's side, read on every request
    assert read == set(revision.WATCHED)


# --------------------------------------------------------------------------- every write

def _add_group(clinic, session):
    # biotin joins the paraben group: Minoxidil scalp and Hair vitality now hold a paraben
    clinic["biotin"].allergen_groups.append(
        session.execute(db.select(AllergenGroup).where(AllergenGroup.name_key == "paraben")).scalar_one())


def _remove_group(clinic, session):
    clinic["lido_md"].allergen_groups = [g for g in clinic["lido_md"].allergen_groups
                                         if g.name_key != "paraben"]


def _cross(clinic, session):
    groups = {g.name_key: g for g in session.execute(db.select(AllergenGroup)).scalars()}
    a, b = sorted((groups["paraben"], groups["cobalt"]), key=lambda g: g.id)
    session.add(CrossReactivity(group_a_id=a.id, group_b_id=b.id))


def _contraindicate(clinic, session):
    session.add(IngredientContraindication(ingredient_id=clinic["biotin"].id, condition="diabetes"))


def _rename_ingredient(clinic, session):
    clinic["biotin"].name = "Biotin 10 mg/mL"


def _rename_group(clinic, session):
    group = session.execute(db.select(AllergenGroup).where(AllergenGroup.name_key == "cobalt")).scalar_one()
    group.name, group.name_key = "paraben-like cobalt", "paraben-like cobalt"


def _retire(clinic, session):
    clinic["c_glow"].status = "retired"


def _activate_draft(clinic, session):
    draft = clinic["c_draft"]
    draft.status = "active"
    draft.versions[0].status = "active"
    draft.active_version = draft.versions[0]


def _core_update(clinic, session):
    session.execute(text("UPDATE cocktail_version SET area = 'face' WHERE cocktail_id = :id"),
                    {"id": clinic["c_hair"].id})


def _core_group_link(clinic, session):
    session.execute(text(
        "INSERT INTO ingredient_allergen_group (ingredient_id, allergen_group_id) "
        "SELECT :ing, id FROM allergen_group WHERE name_key = 'paraben'"), {"ing": clinic["ppc"].id})


def _core_delete_cross(clinic, session):
    session.execute(text("DELETE FROM cross_reactivity"))


WRITES = [_add_group, _remove_group, _cross, _contraindicate, _rename_ingredient, _rename_group,
          _retire, _activate_draft, _core_update, _core_group_link, _core_delete_cross]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.strip("_") for w in WRITES])
def test_any_committed_write_is_screened_at_once(session, clinic, make_patient, write):
    # A patient allergic to parabens, with diabetes: every write above changes what the
    # picker must show her.
    patient = make_patient(allergies=[{"group": "paraben", "severity": "severe"},
                                      {"group": "para-aminobenzoic acid"}],
                           conditions=["diabetes"])
    before = _picker(session, patient)
    kept = _kept()
    assert kept is not None
    write(clinic, session)
    session.commit()
    assert revision.token(session) != kept.token
    after = _picker(session, patient)
    assert after != before
    assert after == _uncached(session, patient)
    assert _kept().token == revision.token(session)


def test_every_watched_table_has_its_triggers(session):
    assert revision.missing_triggers(session.connection()) == []


@pytest.mark.parametrize("table", revision.WATCHED)
def test_an_update_of_any_watched_table_renews_the_token(session, clinic, table):
    column = db.metadata.tables[table].primary_key.columns.values()[0].name
    before = revision.token(session)
    session.execute(text(f"UPDATE {table} SET {column} = {column}"))
    assert revision.token(session) not in (before, None)
    session.rollback()
    assert revision.token(session) == before  # rolled back with the write


@pytest.mark.parametrize("table", ["component", "ingredient_allergen_group",
                                   "ingredient_contraindication", "cross_reactivity"])
def test_a_delete_renews_the_token(session, clinic, table):
    before = revision.token(session)
    session.execute(text(f"DELETE FROM {table}"))
    assert revision.token(session) not in (before, None)
    session.rollback()


def test_an_insert_renews_the_token(session, clinic):
    before = revision.token(session)
    session.add(AllergenGroup(name="sulfite", name_key="sulfite", description=""))
    session.commit()
    assert revision.token(session) not in (before, None)


def test_a_transactions_own_write_is_screened_and_rolled_back_with_it(session, clinic,
                                                                       make_patient):
    patient = make_patient(allergies=[{"group": "paraben"}])
    before = _picker(session, patient)
    _add_group(clinic, session)  # not committed
    during = _picker(session, patient)
    assert dict((n, v) for n, _, _, v, _, _ in during[0])["Minoxidil scalp"] == "blocked"
    session.rollback()
    assert _picker(session, patient) == before


def test_a_database_emptied_table_by_table_keeps_nothing(session, clinic, make_patient):
    patient = make_patient()
    _picker(session, patient)
    session.execute(revision.FormularyRevision.__table__.delete())
    session.commit()
    assert revision.token(session) is None
    first = _picker(session, patient)
    assert _kept() is None or _kept().token is not None
    assert _picker(session, patient) == first


# --------------------------------------------------------------------------- other processes

@pytest.fixture
def second_app(backend, tmp_path):
    """A second app (its own engine and kept snapshot, as another worker process has) on
    the same database as ``first_app``, which is also made here (a file for SQLite)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}" if backend == "sqlite" else PG_URL
    first, second = make_app(url), make_app(url)
    yield first, second
    for app in (first, second):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_change_committed_by_another_worker_is_seen_by_the_next_request(app, second_app):
    first, second = second_app
    if first.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with first.app_context():
            db.create_all()
    # The shared app (and its fixtures) work on the fixture's database; here the two apps
    # share their own (on PostgreSQL, the same database as the fixture's).
    with first.app_context():
        from formulary.inventory.models import Ingredient
        from formulary.patients.models import Allergy, Patient

        group = AllergenGroup(name="sulfite", name_key="sulfite", description="")
        ing = Ingredient(name="Glutathione 600 mg", name_key="glutathione 600 mg",
                         category="other", unit="mL", storage="fridge", multi_dose=False)
        db.session.add_all([group, ing])
        db.session.flush()
        cocktail = Cocktail(name="Glow drip", name_key="glow drip", status="active")
        from decimal import Decimal

        from formulary.cocktails.models import CocktailVersion, Component
        from formulary.db import utcnow

        version = CocktailVersion(cocktail=cocktail, number=1, area="face", indication="",
                                  storage="fridge", status="active", approved_at=utcnow())
        version.components.append(Component(ingredient=ing, position=0, amount=Decimal(1),
                                             unit="mL", stock_quantity=Decimal(1), stock_unit="mL"))
        db.session.add_all([cocktail, version])
        db.session.flush()
        cocktail.active_version = version
        patient = Patient(mrn="SNAP-1", first_name="Ana", last_name="Two", allergy_status="known")
        patient.allergies.append(Allergy(allergen_group=group, severity="severe", reaction="",
                                         status="active"))
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
        ing_id = ing.id

    def verdict(app_):
        with app_.app_context():
            found = formulation_page(db.session, db.session.get(Patient, patient_id), "face")
            db.session.rollback()
            return {fr.cocktail.name: fr.verdict for fr in found.items}

    assert verdict(first) == {"Glow drip": "safe"}
    assert verdict(first) == {"Glow drip": "safe"}  # now kept by the first app
    with second.app_context():
        ing = db.session.get(Ingredient, ing_id)
        ing.allergen_groups.append(db.session.execute(
            db.select(AllergenGroup).where(AllergenGroup.name_key == "sulfite")).scalar_one())
        db.session.commit()
    assert verdict(first) == {"Glow drip": "blocked"}


@pytest.mark.postgres
def test_a_change_committed_while_the_formulary_is_read_is_not_kept(
        app, backend, session, clinic, make_patient, monkeypatch):
    if backend != "postgresql":
        pytest.skip("needs a second connection committing while the first reads: PostgreSQL")
    patient = make_patient(allergies=[{"group": "paraben"}])
    session.commit()
    other = create_engine(PG_URL)
    real_read, calls = screen_snapshot.read, []

    def read_while_another_commits(session_, token=None, previous=None):
        calls.append(token)
        snapshot = real_read(session_, token, previous)
        if len(calls) == 1:  # between this reading and the token read after it
            with other.begin() as conn:
                conn.execute(text(
                    "INSERT INTO ingredient_allergen_group (ingredient_id, allergen_group_id) "
                    "SELECT :ing, id FROM allergen_group WHERE name_key = 'paraben'"),
                    {"ing": clinic["biotin"].id})
        return snapshot

    monkeypatch.setattr(screen_snapshot, "read", read_while_another_commits)
    try:
        found = dict((n, v) for n, _, _, v, _, _ in _picker(session, patient)[0])
    finally:
        other.dispose()
    assert len(calls) == 2 and calls[0] != calls[1]  # read again under the new token
    assert found["Minoxidil scalp"] == "blocked"  # biotin is a paraben now
    assert _kept().token == calls[1] == revision.token(session)


def test_nothing_is_kept_while_a_trigger_is_missing(app, session, clinic, make_patient, caplog):
    from flask import current_app

    patient = make_patient(allergies=[{"group": "paraben"}])
    dialect = db.engine.dialect.name
    drop = (f"DROP TRIGGER {revision._FUNCTION}_cross_reactivity_insert" if dialect == "sqlite"
            else f"DROP TRIGGER {revision._FUNCTION} ON cross_reactivity")
    session.execute(text(drop))
    session.commit()
    current_app.extensions.pop(screen_snapshot._STORE, None)  # a worker starting now
    try:
        assert revision.missing_triggers(session.connection()) == [("cross_reactivity", "INSERT")] \
            if dialect == "sqlite" else [("cross_reactivity", e)
                                         for e in ("INSERT", "DELETE", "UPDATE", "TRUNCATE")]
        first = _picker(session, patient)
        assert _kept() is None
        assert "triggers are missing for INSERT on cross_reactivity" in caplog.text
        # A cross-reactivity added now, which no token records, is screened at once.
        _cross(clinic, session)
        session.commit()
        assert _picker(session, patient) != first
        assert _kept() is None
    finally:
        for statement in revision.trigger_statements(dialect):
            session.execute(text(statement))
        session.commit()
        current_app.extensions.pop(screen_snapshot._STORE, None)
    assert revision.missing_triggers(session.connection()) == []
