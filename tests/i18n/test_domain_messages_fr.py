"""The safety screen's findings, refusals with values in them and the DO NOT USE banner,
in French (SPEC §13): the domain writes a Message (its English text, the template and the
values), the page or the API says it in the reader's language, values in the reader's
form; codes stay English, and an English reader reads exactly what the domain wrote."""

from __future__ import annotations

import html as htmllib
from datetime import date, timedelta
from decimal import Decimal

import pytest

from formulary import clock
from formulary.compounding import services as batch_services
from formulary.db import utcnow
from formulary.domain.messages import Message, code, join_and, msg
from formulary.extensions import db
from formulary.i18n import tr


def _text(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True))


@pytest.fixture
def screened(make_group, make_ingredient, make_cocktail, make_patient):
    """Lidocaine (amide local anaesthetic) in a scalp cocktail; a pregnant patient with a
    severe reaction (urticaria) to amide local anaesthetics."""
    make_group("amide local anesthetic")
    lido = make_ingredient("Lidocaine 2%", category="anesthetic",
                           groups=("amide local anesthetic",))
    cocktail = make_cocktail([(lido, "1", "mL")], name="Mix lidocaïne")
    patient = make_patient(conditions=("pregnant",), allergies=[
        {"group": "amide local anesthetic", "severity": "severe", "reaction": "urticaria"}])
    return {"lido": lido, "cocktail": cocktail, "patient": patient}


BLOCK_EN = ("Lidocaine 2% contains amide local anesthetic, to which the patient had a severe "
            "reaction (urticaria).")
BLOCK_FR = ("Lidocaine 2% contient amide local anesthetic ; le patient a présenté une réaction "
            "sévère (urticaria) à amide local anesthetic.")
PREGNANCY_FR = "Grossesse : mésothérapie contre-indiquée."


def test_the_picker_says_the_findings_in_french_and_english(client, i18n_app, login_as, screened):
    user = login_as("pharmacist")
    url = f"/patients/{screened['patient'].id}/formulations"
    english = _text(client.get(url))
    assert BLOCK_EN in english and "Pregnancy: mesotherapy is contraindicated." in english

    user.locale = "fr"
    db.session.commit()
    french = _text(client.get(url))
    assert BLOCK_FR in french and PREGNANCY_FR in french
    assert BLOCK_EN not in french
    # the codes stay in the markup
    assert 'data-kind="allergen_group" data-level="block"' in french


def test_the_api_message_follows_accept_language_and_the_codes_stay(api, i18n_app, screened):
    client = api("pharmacist")
    url = f"patients/{screened['patient'].id}/safety?cocktail_id={screened['cocktail'].id}"
    english = client.get(url).get_json()
    french = client.get(url, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_json()
    assert english["verdict"] == french["verdict"] == "blocked"
    assert [(f["kind"], f["level"], f["ingredient_id"]) for f in english["findings"]] == \
        [(f["kind"], f["level"], f["ingredient_id"]) for f in french["findings"]]
    messages_en = {f["kind"]: f["message"] for f in english["findings"]}
    messages_fr = {f["kind"]: f["message"] for f in french["findings"]}
    assert messages_en["allergen_group"] == BLOCK_EN
    assert messages_fr["allergen_group"] == BLOCK_FR
    assert messages_fr["contraindication"] == PREGNANCY_FR

    # the picker's page of the API too (its JSON is put together by hand)
    page = client.get(f"patients/{screened['patient'].id}/formulations",
                      headers={"Accept-Language": "fr"}).get_json()
    found = [f["message"] for item in page["items"] for f in item["findings"]]
    assert BLOCK_FR in found and PREGNANCY_FR in found


def test_preparing_for_a_blocked_patient_is_refused_in_french(api, i18n_app, screened, make_lot):
    make_lot(screened["lido"], "50")
    client = api("pharmacist")
    r = client.post("batches", json={"cocktail_id": screened["cocktail"].id, "doses": 1,
                                     "patient_id": screened["patient"].id},
                    headers={"Accept-Language": "fr"})
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "safety_block"
    assert error["message"] == (
        f"Le contrôle de sécurité bloque ce cocktail pour ce patient. {PREGNANCY_FR} {BLOCK_FR} "
        "Indiquez un motif de passage outre pour le préparer malgré tout.")
    assert {f["message"] for f in error["findings"]} >= {PREGNANCY_FR, BLOCK_FR}


def test_a_refusal_with_quantities_reads_them_the_french_way(api, i18n_app, make_ingredient,
                                                              make_lot):
    lot = make_lot(make_ingredient("Biotine"), "2.5", lot_number="BIO-FR")
    client = api("pharmacist")
    body = {"quantity_delta": "-3.75", "reason": "waste"}
    english = client.post(f"lots/{lot.id}/adjustments", json=body).get_json()["error"]
    french = client.post(f"lots/{lot.id}/adjustments", json=body,
                         headers={"Accept-Language": "fr"}).get_json()["error"]
    assert english["code"] == french["code"] == "insufficient_stock"
    assert english["message"] == "Lot BIO-FR holds 2.5; taking 3.75 would leave it below zero."
    assert french["message"] == ("Le lot BIO-FR contient 2,5 ; en prélever 3,75 le ferait "
                                 "passer sous zéro.")
    db.session.refresh(lot)
    assert lot.quantity_on_hand == Decimal("2.5")


def test_a_refusal_with_a_date_reads_it_the_french_way(client, i18n_app, login_as,
                                                        make_ingredient, make_lot):
    """Receiving more of a lot on file with another expiry: both dates, as the reader
    writes them."""
    biotin = make_ingredient("Biotine 5 mg/mL")
    make_lot(biotin, "10", lot_number="BIO-DATE", expiry=date(2027, 1, 31))
    user = login_as("pharmacist")
    user.locale = "fr"
    db.session.commit()
    r = client.post_form("/receive", {
        "ingredient_id": str(biotin.id), "lot_number": "BIO-DATE", "expiry_date": "28/02/2027",
        "quantity": "1,5", "unit_cost": "", "supplier": "Pharmacie centrale"})
    page = _text(r)
    assert r.status_code == 409 or r.status_code == 422, page[:3000]
    assert ("Le lot BIO-DATE de Biotine 5 mg/mL a été réceptionné avec la date de péremption "
            "31/01/2027, et non 28/02/2027 : vérifiez le flacon.") in page


@pytest.fixture
def label_batch(make_ingredient, make_lot, make_cocktail, make_user, app):
    """``label_batch(at=None)``: a batch of two doses of a biotin cocktail, prepared at
    ``at`` (default now), with its lot and its preparer."""
    biotin = make_ingredient("Biotine", storage="fridge")
    lot = make_lot(biotin, "20", lot_number="BIO-LBL",
                   expiry=clock.today() + timedelta(days=100))
    cocktail = make_cocktail([(biotin, "1", "mL")], name="Cocktail étiquette")
    preparer = make_user("pharmacist")

    def make(at=None):
        batch = batch_services.prepare_batch(
            db.session, preparer, cocktail=cocktail, doses=2, patient=None,
            tz=clock.clinic_tz(), now=at or utcnow(),
            policy=batch_services.policy_from_hours(app.config["BEYOND_USE_HOURS"]))
        db.session.commit()
        return {"batch": batch, "lot": lot, "preparer": preparer}

    return make


def test_the_do_not_use_banner_in_french(client, i18n_app, login_as, label_batch):
    from formulary.inventory import lots

    label_batch = label_batch()
    batch, lot = label_batch["batch"], label_batch["lot"]
    user = login_as("pharmacist")
    url = f"/batches/{batch.id}/label"
    assert "do-not-use" not in _text(client.get(url))

    lots.set_lot_status(db.session, label_batch["preparer"], lot, status="quarantined",
                        reason="Particules visibles")
    db.session.commit()
    english = _text(client.get(url))
    assert "DO NOT USE — On hold: Biotine lot BIO-LBL is quarantined." in english
    user.locale = "fr"
    db.session.commit()
    french = _text(client.get(url))
    assert "NE PAS UTILISER — Bloquée : Biotine, lot BIO-LBL : en quarantaine." in french
    assert "DO NOT USE" not in french

    lots.set_lot_status(db.session, label_batch["preparer"], lot, status="available",
                        reason="Contrôle conforme")
    batch_services.discard_batch(db.session, label_batch["preparer"], batch, "Flacon cassé")
    db.session.commit()
    assert "NE PAS UTILISER — détruite." in _text(client.get(url))


def test_an_expired_batch_label_in_french(client, i18n_app, login_as, label_batch):
    batch = label_batch(at=utcnow() - timedelta(days=30))["batch"]
    user = login_as("pharmacist")
    url = f"/batches/{batch.id}/label"
    assert "DO NOT USE — Past its beyond-use date." in _text(client.get(url))
    user.locale = "fr"
    db.session.commit()
    page = _text(client.get(url))
    assert "NE PAS UTILISER — Date limite d'utilisation dépassée." in page


# --- the message values, at the edge -------------------------------------------------------

def test_a_message_is_its_english_text(i18n_app):
    made = msg("Lot %(lot)s holds %(on_hand)s on %(day)s.", lot="L1", on_hand=Decimal("2.50"),
               day=date(2027, 1, 31))
    assert isinstance(made, Message) and made == "Lot L1 holds 2.5 on 2027-01-31."
    assert made.template == "Lot %(lot)s holds %(on_hand)s on %(day)s."
    assert join_and(["a"]) == "a" and join_and(["a", "b", "c"]) == "a, b and c"
    assert msg("Session %(n)s is already %(s)s.", n=3, s=code("given")) == \
        "Session 3 is already given."


def test_tr_puts_the_values_back_in_the_readers_form(i18n_app):
    from flask_babel import force_locale

    sentence = msg("%(ingredient)s: %(total)s %(unit)s in this session would be over its "
                   "maximum dose per session (%(maximum)s %(max_unit)s).",
                   ingredient="Lidocaïne", total=Decimal("1234.5"), unit="mL",
                   maximum=Decimal("100"), max_unit="mg")
    with i18n_app.test_request_context("/"):
        with force_locale("en"):
            assert tr(sentence) == str(sentence)
        with force_locale("fr"):
            assert tr(sentence) == ("Lidocaïne : 1\u202f234,5 mL lors de cette séance "
                                    "dépasseraient sa dose maximale par séance (100 mg).")
            nested = msg("Session %(number)s is already %(status)s.", number=2,
                         status=code("given"))
            assert tr(nested) == "La séance 2 est déjà administrée."


def test_a_flashed_refusal_with_a_value_in_french(client, i18n_app, login_as):
    """A flash is kept in the session as text: it is said in the reader's language before."""
    user = login_as("pharmacist")
    user.locale = "fr"
    db.session.commit()
    page = _text(client.get("/lots?sort=bogus"))
    assert "Cette liste ne peut pas être triée par « bogus »." in page
    assert "Affichée dans l'ordre par défaut." in page


def test_the_preview_names_what_sets_the_beyond_use_date_in_french(client, i18n_app, login_as,
                                                                    make_ingredient, make_lot,
                                                                    make_cocktail):
    biotin = make_ingredient("Biotine")
    make_lot(biotin, "20", expiry=clock.today() + timedelta(days=100))
    cocktail = make_cocktail([(biotin, "1", "mL")], storage="fridge")
    user = login_as("pharmacist")
    url = f"/batches/new?cocktail_id={cocktail.id}&doses=1"
    assert "(set by storage policy (fridge, 24 h))" in _text(client.get(url))
    user.locale = "fr"
    db.session.commit()
    assert "règle de conservation (réfrigérateur, 24 h)" in _text(client.get(url))


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english(i18n_app):
    """A stray % in a translation must not turn a refusal into a 500."""
    from flask_babel import force_locale, get_domain

    sentence = msg("Batch %(batch_number)s is already discarded.", batch_number="B-1")
    with i18n_app.test_request_context("/"), force_locale("fr"):
        catalog = get_domain().get_translations()._catalog
        assert tr(sentence) == "La préparation B-1 est déjà détruite."
        kept = catalog[sentence.template]
        catalog[sentence.template] = "La préparation %(batch_number)s à 100 % détruite."
        try:
            assert tr(sentence) == "Batch B-1 is already discarded."
        finally:
            catalog[sentence.template] = kept


@pytest.mark.parametrize("typed, english, french", [
    ("25h", "'25h'", "« 25h »"),
    ("it's", "\"it's\"", "« it's »"),
    ("", "''", "«  »"),
    ("a\x00b", "'a\\x00b'", "« a\\x00b »"),   # a control character shows, escaped
])
def test_a_typed_value_is_quoted_in_the_readers_quotes(i18n_app, typed, english, french):
    """A value the user typed, quoted in a refusal: English as before (Python's quotes and
    escapes), French between guillemets, never 'x' inside a French sentence."""
    from flask_babel import force_locale

    from formulary.domain.errors import ValidationError
    from formulary.domain.schedule import parse_time_of_day

    with pytest.raises(ValidationError) as refused:
        parse_time_of_day(typed)
    sentence = refused.value.message
    assert str(sentence) == f"Give the time as HH:MM, not {english}."
    with i18n_app.test_request_context("/"):
        with force_locale("en"):
            assert tr(sentence) == f"Give the time as HH:MM, not {english}."
        with force_locale("fr"):
            assert tr(sentence) == f"Indiquez l'heure au format HH:MM, et non {french}."
