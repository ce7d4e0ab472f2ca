"""Which language a page speaks: the user's profile choice, else the browser's
Accept-Language, else DEFAULT_LOCALE; <html lang> follows. The API keeps its codes and
ISO forms; its messages follow Accept-Language."""

from __future__ import annotations

import re

import pytest

from formulary.extensions import db


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def _choose(user, locale):
    user.locale = locale
    db.session.commit()


@pytest.mark.parametrize("profile, header, default, expected", [
    (None, None, "en", "en"),
    (None, None, "fr", "fr"),
    (None, "fr-FR,fr;q=0.9,en;q=0.5", "en", "fr"),
    (None, "de-DE,de;q=0.9", "fr", "fr"),        # a language the clinic lacks: the default
    (None, "en-GB,en;q=0.9", "fr", "en"),
    ("en", "fr-FR", "fr", "en"),                  # the profile wins over the browser
    ("fr", "en-US", "en", "fr"),
])
def test_the_page_language(i18n_app, client, login_as, profile, header, default, expected):
    i18n_app.config["DEFAULT_LOCALE"] = default
    user = login_as("pharmacist")
    _choose(user, profile)
    headers = {"Accept-Language": header} if header else {}
    html = client.get("/lots", headers=headers).get_data(as_text=True)
    assert _lang(html) == expected
    assert ("Lots" if expected == "en" else "Lots") in html
    assert ("Se déconnecter" in html) is (expected == "fr")


def test_a_visitor_reads_the_login_page_in_the_browsers_language(i18n_app, client):
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert _lang(html) == "fr" and "Connexion à Formulary" in html and "Nom d'utilisateur" in html


def test_the_profile_page_saves_the_choice(i18n_app, client, login_as):
    user = login_as("practitioner")
    page = client.get("/profile").get_data(as_text=True)
    assert "The browser&#39;s language" in page and "Français" in page
    response = client.post_form("/profile", {"locale": "fr"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locale == "fr"
    html = client.get("/profile").get_data(as_text=True)
    assert _lang(html) == "fr" and "Vos réglages sont enregistrés." in html
    # back to the browser's choice
    client.post_form("/profile", {"locale": ""})
    db.session.refresh(user)
    assert user.locale is None


def test_the_profile_refuses_a_language_the_clinic_lacks(i18n_app, client, login_as):
    user = login_as("pharmacist")
    response = client.post_form("/profile", {"locale": "de"})
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.locale is None


def test_api_messages_follow_accept_language_and_codes_stay(i18n_app, api):
    client = api("pharmacist")
    _choose(client.user, "en")  # the profile does not speak for the API: its caller's header does
    fr = client.get("lots/999999", headers={"Accept-Language": "fr"})
    en = client.get("lots/999999", headers={"Accept-Language": "en"})
    assert fr.status_code == en.status_code == 404
    assert fr.json["error"]["code"] == en.json["error"]["code"] == "not_found"
    assert en.json["error"]["message"] == "No such lot."
    assert fr.json["error"]["message"] == "Lot inconnu."


def test_api_field_messages_in_french_and_iso_dates_kept(i18n_app, api, make_ingredient):
    client = api("pharmacist")
    ing = make_ingredient("Biotin 5 mg/mL", unit="mL")
    bad = client.post("lots", json={"ingredient_id": ing.id, "lot_number": "L1",
                                    "expiry_date": "31/01/2027", "quantity": "12,5"},
                      headers={"Accept-Language": "fr"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid"
    # the API reads ISO dates and point decimals only, whatever the language
    good = client.post("lots", json={"ingredient_id": ing.id, "lot_number": "L1",
                                     "expiry_date": "2027-01-31", "quantity": "12.5"},
                       headers={"Accept-Language": "fr"})
    assert good.status_code == 201, good.json
    assert good.json["expiry_date"] == "2027-01-31" and good.json["quantity_on_hand"] == "12.5"
