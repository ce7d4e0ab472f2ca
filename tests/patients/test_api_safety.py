"""The screen through the API (SPEC §6, §9): each kind of finding with clinic data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.extensions import db


def _screen(client, patient, cocktail):
    r = client.get(f"patients/{patient.id}/safety?cocktail_id={cocktail.id}")
    assert r.status_code == 200, r.json
    return r.json


def _kinds(body):
    return [(f["level"], f["kind"], f["ingredient_id"]) for f in body["findings"]]


@pytest.fixture
def practitioner(api):
    return api("practitioner")


def test_a_direct_allergy_blocks_with_the_reaction(practitioner, make_patient, clinic):
    patient = make_patient(allergies=[{"ingredient": clinic["lido_md"], "severity": "severe",
                                       "reaction": "urticaria"}])
    body = _screen(practitioner, patient, clinic["c_hair"])
    assert body["verdict"] == "blocked"
    assert body["cocktail_id"] == clinic["c_hair"].id and body["version"] == 1
    assert _kinds(body) == [("block", "allergy", clinic["lido_md"].id)]
    assert "Lidocaine 2% (multi-dose)" in body["findings"][0]["message"]
    assert "severe" in body["findings"][0]["message"]


def test_a_paraben_allergy_blocks_the_preserved_lidocaine(practitioner, make_patient, clinic):
    # Methylparaben is the preservative of the multi-dose lidocaine vial.
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"}])
    body = _screen(practitioner, patient, clinic["c_hair"])
    assert _kinds(body) == [("block", "allergen_group", clinic["lido_md"].id)]
    assert "paraben" in body["findings"][0]["message"]
    # The preservative-free lidocaine of "Face glow" holds no paraben: safe.
    assert _screen(practitioner, patient, clinic["c_glow"])["verdict"] == "safe"


def test_an_ester_anaesthetic_allergy_does_not_flag_lidocaine(practitioner, make_patient, clinic):
    patient = make_patient(allergies=[{"ingredient": clinic["procaine"], "severity": "severe"}])
    # Amides and esters do not cross-react: no finding at all on either lidocaine.
    body = _screen(practitioner, patient, clinic["c_glow"])
    assert body["verdict"] == "safe" and body["findings"] == []
    # Cross-reaction is not transitive: ester <-> PABA <-> paraben does not make the
    # ester allergy flag the paraben-preserved vial.
    assert _screen(practitioner, patient, clinic["c_hair"])["verdict"] == "safe"


def test_cross_reactivity_warns_both_ways(practitioner, make_patient, clinic):
    patient = make_patient(allergies=[{"group": "para-aminobenzoic acid", "severity": "mild"}])
    body = _screen(practitioner, patient, clinic["c_hair"])
    assert _kinds(body) == [("warn", "cross_reactivity", clinic["lido_md"].id)]


def test_free_text_warns_for_review_unless_it_names_an_ingredient(practitioner, make_patient,
                                                                  clinic):
    latex = make_patient(allergies=[{"substance": "latex", "severity": "anaphylaxis"}])
    body = _screen(practitioner, latex, clinic["c_lipo"])
    assert body["verdict"] == "caution"
    assert _kinds(body) == [("warn", "uncoded_allergy", None)]
    assert "review by hand" in body["findings"][0]["message"]
    soy = make_patient(allergies=[{"substance": "soya lecithin, soy", "severity": "severe"}])
    body = _screen(practitioner, soy, clinic["c_lipo"])
    assert _kinds(body) == [("block", "uncoded_allergy", clinic["ppc"].id)]


def test_inactive_and_refuted_allergies_do_not_count(practitioner, make_patient, clinic):
    patient = make_patient(allergies=[
        {"group": "paraben", "severity": "severe", "status": "refuted"},
        {"ingredient": clinic["lido_md"], "severity": "mild", "status": "inactive"}])
    assert _screen(practitioner, patient, clinic["c_hair"])["verdict"] == "safe"


def test_an_unassessed_patient_gets_a_warning(practitioner, make_patient, clinic):
    patient = make_patient(allergy_status="unknown")
    body = _screen(practitioner, patient, clinic["c_minox"])
    assert body["verdict"] == "caution"
    assert _kinds(body) == [("warn", "allergies_not_assessed", None)]


def test_contraindications_general_and_per_ingredient(practitioner, make_patient, clinic):
    pregnant = make_patient(conditions=["pregnant"])
    body = _screen(practitioner, pregnant, clinic["c_minox"])
    assert _kinds(body) == [("block", "contraindication", None),
                            ("block", "contraindication", clinic["minox"].id)]
    anticoagulated = make_patient(conditions=["anticoagulant_therapy"])
    assert _kinds(_screen(practitioner, anticoagulated, clinic["c_glow"])) == [
        ("block", "contraindication", None)]
    diabetic = make_patient(conditions=["diabetes"])
    assert _screen(practitioner, diabetic, clinic["c_glow"])["verdict"] == "caution"


def test_the_screen_is_audited_as_a_view(practitioner, make_patient, clinic):
    patient = make_patient()
    _screen(practitioner, patient, clinic["c_glow"])
    db.session.rollback()
    entries = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient.view")).scalars().all()
    assert len(entries) == 1 and "Face glow" in entries[0].summary


def test_screen_errors(api, practitioner, make_patient, clinic):
    patient = make_patient()
    url = f"patients/{patient.id}/safety"
    r = practitioner.get(url)
    assert r.status_code == 422 and "cocktail_id" in r.json["error"]["fields"]
    assert practitioner.get(f"{url}?cocktail_id=abc").status_code == 422
    assert practitioner.get(f"{url}?cocktail_id=9999").status_code == 404
    r = practitioner.get(f"{url}?cocktail_id={clinic['c_draft'].id}")
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"
    assert practitioner.get(f"patients/999/safety?cocktail_id={clinic['c_glow'].id}").status_code == 404
    assert api("manager").get(f"{url}?cocktail_id={clinic['c_glow'].id}").status_code == 403
    db.session.rollback()
    assert not db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient.view")).scalars().all()


def test_formulations_rank_every_active_cocktail(practitioner, make_patient, clinic):
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"}],
                           conditions=["diabetes"])
    r = practitioner.get(f"patients/{patient.id}/formulations")
    assert r.status_code == 200
    items = r.json["items"]
    assert r.json["total"] == 4  # the draft is not offered
    assert [(i["name"], i["verdict"]) for i in items] == [
        ("Body contour", "caution"), ("Face glow", "caution"), ("Minoxidil scalp", "caution"),
        ("Hair vitality", "blocked")]
    assert set(items[0]) >= {"cocktail_id", "name", "area", "version", "verdict", "findings"}
    scalp = practitioner.get(f"patients/{patient.id}/formulations?area=scalp").json
    assert [i["name"] for i in scalp["items"]] == ["Minoxidil scalp", "Hair vitality"]
    r = practitioner.get(f"patients/{patient.id}/formulations?area=elbow")
    assert r.status_code == 422 and "area" in r.json["error"]["fields"]


def test_formulations_pages_carry_every_finding(practitioner, make_patient, clinic):
    # Each page gives, for each of its cocktails, exactly what the single screen gives.
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"},
                                      {"substance": "latex", "severity": "mild"}],
                           conditions=["diabetes"])
    whole = practitioner.get(f"patients/{patient.id}/formulations").json
    assert whole["total"] == 4 and whole["page"] == 1
    paged = []
    for page in (1, 2):
        r = practitioner.get(f"patients/{patient.id}/formulations?per_page=2&page={page}")
        assert r.status_code == 200 and r.mimetype == "application/json"
        assert (r.json["total"], r.json["page"], r.json["per_page"]) == (4, page, 2)
        paged += r.json["items"]
    assert paged == whole["items"]
    # past the last page: the last (the rule of every list, issue 16)
    r = practitioner.get(f"patients/{patient.id}/formulations?per_page=2&page=3")
    assert (r.json["total"], r.json["page"]) == (4, 2) and r.json["items"] == paged[2:]
    for item in whole["items"]:
        single = _screen(practitioner, patient, type("C", (), {"id": item["cocktail_id"]}))
        assert item == single
    latex = [f for f in whole["items"][0]["findings"] if "latex" in f["message"]]
    assert latex == [{"level": "warn", "kind": "uncoded_allergy", "ingredient_id": None,
                      "message": latex[0]["message"]}]


def test_formulations_follow_formulary_changes_made_through_the_api(api, practitioner,
                                                                     make_patient, clinic):
    # The formulary is kept between views (patients.screen_snapshot): each change a
    # pharmacist or an admin makes through the API is screened by the next view.
    patient = make_patient(allergies=[{"group": "paraben", "severity": "severe"}])

    def verdicts():
        r = practitioner.get(f"patients/{patient.id}/formulations")
        assert r.status_code == 200
        return {i["name"]: i["verdict"] for i in r.json["items"]}

    assert verdicts() == {"Body contour": "safe", "Face glow": "safe",
                          "Minoxidil scalp": "safe", "Hair vitality": "blocked"}
    assert verdicts()["Minoxidil scalp"] == "safe"  # kept, and the same
    pharmacist, admin = api("pharmacist"), api("admin")
    # Biotin turns out to be preserved with a paraben: Minoxidil scalp holds it.
    r = pharmacist.patch(f"ingredients/{clinic['biotin'].id}", json={"allergen_groups": ["paraben"]})
    assert r.status_code == 200, r.json
    assert verdicts()["Minoxidil scalp"] == "blocked"
    single = practitioner.get(f"patients/{patient.id}/safety?cocktail_id={clinic['c_minox'].id}")
    assert single.json["verdict"] == "blocked"  # the single screen reads the same formulary
    # Soy is found to cross-react with parabens (an admin's change): Body contour warns.
    soy = next(g for g in admin.get("allergen-groups?per_page=100").json["items"] if g["name"] == "soy")
    r = admin.patch(f"allergen-groups/{soy['id']}", json={"cross_reacts_with": ["paraben"]})
    assert r.status_code == 200, r.json
    assert verdicts()["Body contour"] == "caution"
    # A new cocktail approved, one retired.
    r = pharmacist.post("cocktails", json={
        "name": "Zinc face", "area": "face", "indication": "acne", "storage": "fridge",
        "components": [{"ingredient_id": clinic["dexpanthenol"].id, "amount": "1", "unit": "mL"}]})
    assert r.status_code == 201, r.json
    assert "Zinc face" not in verdicts()  # a draft is not offered
    assert admin.post(f"cocktails/{r.json['id']}/approve").status_code == 200  # four eyes
    assert pharmacist.post(f"cocktails/{clinic['c_glow'].id}/retire",
                           json={"reason": "supplier stopped"}).status_code == 200
    assert verdicts() == {"Body contour": "caution", "Zinc face": "safe",
                          "Hair vitality": "blocked", "Minoxidil scalp": "blocked"}
