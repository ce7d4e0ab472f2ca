"""The patient rows of the API (SPEC §9): records, allergy status, audit of every view."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from formulary.patients.models import Allergy, Patient

NEW = {"mrn": "MRN-1001", "first_name": "Claire", "last_name": "Dubois",
       "date_of_birth": "1979-03-14", "conditions": ["diabetes"]}


def _patients() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Patient)).scalar_one()


def _audit(action: str, **where) -> list[AuditEntry]:
    db.session.rollback()
    stmt = select(AuditEntry).where(AuditEntry.action == action)
    for k, v in where.items():
        stmt = stmt.where(getattr(AuditEntry, k) == v)
    return db.session.execute(stmt.order_by(AuditEntry.seq)).scalars().all()


# --------------------------------------------------------------------------- create, read

def test_create_answers_201_with_the_record_as_a_read_gives_it(api):
    client = api("practitioner")
    r = client.post("patients", json=NEW)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["mrn"] == "MRN-1001" and body["date_of_birth"] == "1979-03-14"
    assert body["allergy_status"] == "unknown"  # not yet assessed
    assert body["conditions"] == ["diabetes"] and body["allergies"] == []
    read = client.get(f"patients/{body['id']}").json
    assert read == body
    assert _audit("patient.create")[0].object_id == str(body["id"])


def test_an_mrn_already_taken_is_a_409_duplicate_and_adds_nothing(api):
    client = api("practitioner")
    assert client.post("patients", json=NEW).status_code == 201
    r = client.post("patients", json=dict(NEW, mrn="mrn-1001", first_name="Other"))
    assert r.status_code == 409
    assert r.json["error"]["code"] == "duplicate" and "mrn" in r.json["error"]["fields"]
    assert _patients() == 1


def test_names_are_required_and_birth_cannot_be_in_the_future(api):
    client = api("practitioner")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    r = client.post("patients", json={"mrn": "M1", "first_name": " ", "date_of_birth": tomorrow})
    assert r.status_code == 422
    assert set(r.json["error"]["fields"]) >= {"first_name", "last_name", "date_of_birth"}
    assert _patients() == 0


def test_unknown_conditions_and_fields_are_refused(api):
    client = api("practitioner")
    r = client.post("patients", json=dict(NEW, conditions=["pregnancy"]))
    assert r.status_code == 422 and "conditions" in r.json["error"]["fields"]
    r = client.post("patients", json=dict(NEW, blood_group="A+"))
    assert r.status_code == 422 and "blood_group" in r.json["error"]["fields"]
    assert client.post("patients", json=dict(NEW, date_of_birth="14/03/1979")).status_code == 422
    assert _patients() == 0


def test_malformed_body_unauthenticated_and_forbidden(api, client):
    practitioner = api("practitioner")
    r = practitioner.post("patients", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed"
    assert client.post("/api/v1/patients", json=NEW).status_code == 401
    manager = api("manager")
    assert manager.post("patients", json=NEW).status_code == 403
    assert manager.get("patients").status_code == 403
    assert _patients() == 0


def test_unknown_patient_is_404(api):
    client = api("practitioner")
    assert client.get("patients/999").status_code == 404
    assert client.patch("patients/999", json={"first_name": "X"}).status_code == 404
    assert client.get("patients/999/formulations").status_code == 404


def test_search_by_mrn_or_name_paginated(api, make_patient):
    make_patient("MRN-0001", first_name="Claire", last_name="Dubois")
    make_patient("MRN-0002", first_name="Marc", last_name="Lefebvre")
    make_patient("XY-77", first_name="Claire", last_name="Martin")
    client = api("pharmacist")
    assert [p["mrn"] for p in client.get("patients?q=claire").json["items"]] == ["MRN-0001", "XY-77"]
    assert [p["mrn"] for p in client.get("patients?q=xy-7").json["items"]] == ["XY-77"]
    assert [p["mrn"] for p in client.get("patients?q=claire dub").json["items"]] == ["MRN-0001"]
    page = client.get("patients?per_page=2&page=2").json
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2
    assert client.get("patients?per_page=0").status_code == 422


def test_every_read_of_a_record_is_audited(api, make_patient):
    patient = make_patient("MRN-0003")
    client = api("practitioner")
    client.get(f"patients/{patient.id}")
    client.get(f"patients/{patient.id}")
    views = _audit("patient.view", object_id=str(patient.id))
    assert len(views) == 2 and views[0].username == client.user.username
    assert "(api)" in views[0].summary


# --------------------------------------------------------------------------- update

def test_patch_changes_only_the_fields_given_and_audits_before_and_after(api, make_patient):
    patient = make_patient("MRN-0004", first_name="Ana", conditions=["diabetes"])
    client = api("practitioner")
    r = client.patch(f"patients/{patient.id}", json={"conditions": ["pregnant", "diabetes"],
                                                    "reason": "pregnancy confirmed"})
    assert r.status_code == 200 and r.json["conditions"] == ["diabetes", "pregnant"]
    assert r.json["first_name"] == "Ana"
    entry = _audit("patient.update")[0]
    assert entry.reason == "pregnancy confirmed" and "pregnant" in entry.after


def test_patch_refused_changes_nothing(api, make_patient):
    make_patient("MRN-0005")
    patient = make_patient("MRN-0006", first_name="Ana")
    client = api("practitioner")
    r = client.patch(f"patients/{patient.id}", json={"first_name": "Zoe", "mrn": "MRN-0005"})
    assert r.status_code == 409
    r = client.patch(f"patients/{patient.id}", json={"first_name": "Zoe", "last_name": ""})
    assert r.status_code == 422
    db.session.rollback()
    assert db.session.get(Patient, patient.id).first_name == "Ana"
    assert not _audit("patient.update")


def test_no_known_allergies_is_refused_while_an_active_allergy_is_on_file(api, make_patient):
    patient = make_patient(allergy_status="unknown")
    client = api("practitioner")
    r = client.post(f"patients/{patient.id}/allergies",
                    json={"substance": "latex", "severity": "moderate"})
    assert r.status_code == 201
    aid = r.json["id"]
    assert client.get(f"patients/{patient.id}").json["allergy_status"] == "known"
    r = client.patch(f"patients/{patient.id}", json={"allergy_status": "none_known"})
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"
    assert client.get(f"patients/{patient.id}").json["allergy_status"] == "known"
    # Refuted by a test: the patient stays assessed, and may now be "none known".
    r = client.patch(f"patients/{patient.id}/allergies/{aid}",
                     json={"status": "refuted", "reason": "negative glove test"})
    assert r.status_code == 200 and r.json["status"] == "refuted"
    assert client.get(f"patients/{patient.id}").json["allergy_status"] == "known"
    r = client.patch(f"patients/{patient.id}", json={"allergy_status": "none_known"})
    assert r.status_code == 200 and r.json["allergy_status"] == "none_known"


def test_an_assessed_patient_does_not_go_back_to_unknown(api, make_patient):
    patient = make_patient(allergy_status="unknown")
    client = api("practitioner")
    r = client.patch(f"patients/{patient.id}", json={"allergy_status": "known"})
    assert r.status_code == 422  # "known" follows from a recorded allergy
    client.post(f"patients/{patient.id}/allergies", json={"substance": "latex", "severity": "mild"})
    r = client.patch(f"patients/{patient.id}", json={"allergy_status": "unknown"})
    assert r.status_code == 409
    assert client.get(f"patients/{patient.id}").json["allergy_status"] == "known"


# --------------------------------------------------------------------------- allergies

def test_an_allergy_names_exactly_one_known_allergen(api, make_patient, clinic):
    patient = make_patient(allergy_status="unknown")
    client = api("pharmacist")
    url = f"patients/{patient.id}/allergies"
    assert client.post(url, json={"severity": "mild"}).status_code == 422
    r = client.post(url, json={"ingredient_id": clinic["biotin"].id, "substance": "biotin",
                               "severity": "mild"})
    assert r.status_code == 422
    r = client.post(url, json={"ingredient_id": 9999, "severity": "mild"})
    assert r.status_code == 422 and "ingredient_id" in r.json["error"]["fields"]
    r = client.post(url, json={"allergen_group": "shellfish", "severity": "mild"})
    assert r.status_code == 422 and "allergen_group" in r.json["error"]["fields"]
    r = client.post(url, json={"allergen_group": "paraben", "severity": "terrible"})
    assert r.status_code == 422 and "severity" in r.json["error"]["fields"]
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Allergy)).scalar_one() == 0
    assert db.session.get(Patient, patient.id).allergy_status == "unknown"


def test_allergies_to_an_ingredient_a_group_and_free_text(api, make_patient, clinic):
    patient = make_patient(allergy_status="unknown")
    client = api("practitioner")
    url = f"patients/{patient.id}/allergies"
    r = client.post(url, json={"ingredient_id": clinic["lido_md"].id, "severity": "severe",
                               "reaction": "urticaria"})
    assert r.status_code == 201 and r.json["ingredient"] == "Lidocaine 2% (multi-dose)"
    r = client.post(url, json={"allergen_group": " PARABEN ", "severity": "moderate"})
    assert r.status_code == 201 and r.json["allergen_group"] == "paraben"
    r = client.post(url, json={"substance": "latex", "severity": "anaphylaxis"})
    assert r.status_code == 201 and r.json["substance"] == "latex"
    # Free text that is exactly a group's name is recorded as that group.
    r = client.post(url, json={"substance": "Cobalt", "severity": "mild"})
    assert r.status_code == 201 and r.json["allergen_group"] == "cobalt"
    assert r.json["substance"] is None
    read = client.get(f"patients/{patient.id}").json
    assert read["allergy_status"] == "known"
    assert [a["id"] for a in read["allergies"]] == sorted(a["id"] for a in read["allergies"])
    # The same active allergy twice is a duplicate.
    r = client.post(url, json={"allergen_group": "paraben", "severity": "mild"})
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate"
    assert len(_audit("allergy.create")) == 4


def test_a_change_of_status_needs_a_reason_kept_in_the_audit(api, make_patient, clinic):
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"}])
    aid = patient.allergies[0].id
    client = api("practitioner")
    url = f"patients/{patient.id}/allergies/{aid}"
    r = client.patch(url, json={"status": "refuted"})
    assert r.status_code == 422 and "reason" in r.json["error"]["fields"]
    assert client.patch(url, json={"status": "gone", "reason": "x"}).status_code == 422
    assert client.patch(f"patients/{patient.id}/allergies/999", json={"status": "refuted",
                                                                       "reason": "x"}).status_code == 404
    db.session.rollback()
    assert db.session.get(Allergy, aid).status == "active"
    r = client.patch(url, json={"status": "refuted", "reason": "negative patch test"})
    assert r.status_code == 200
    entry = _audit("allergy.update")[-1]
    assert entry.reason == "negative patch test" and "refuted" in entry.after
    r = client.patch(url, json={"severity": "severe", "reaction": "hives"})
    assert r.status_code == 200 and r.json["severity"] == "severe"
