"""Fixtures of the recall tests: a clinic where one lot reached three patients (a batch
given to its patient, a batch made for a patient and never given, a batch without a
patient given to a third), a batch that reached nobody, and a batch that did not use the
lot at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from tests.courses.conftest import clinic, make_batch, practitioner_api, start_course  # noqa: F401

GIVE = {"doses": 1, "sites": "vertex and crown, 60 points", "technique": "nappage"}


@pytest.fixture
def reached(clinic, make_batch, start_course, practitioner_api, make_patient, make_cocktail):  # noqa: F811
    """The clinic before the recall of lot LID-1: ``ana`` was given batch ``b1`` (made for
    her); ``bea`` has ``b2`` made for her, never given; ``cal`` was given ``b3`` (made for
    no one); ``b4`` (no patient, not verified) reached nobody; ``b5`` used only biotin."""
    ana = clinic["patient"]
    bea = make_patient(first_name="Bea", last_name="Bravo")
    cal = make_patient(first_name="Cal", last_name="Costa")
    course_a = start_course()
    course_c = start_course(patient_id=cal.id)
    b1 = make_batch(3)
    b2 = make_batch(2, patient=bea)
    b3 = make_batch(2, patient=None)
    b4 = make_batch(1, patient=None, verify=False)
    biotin_only = make_cocktail([(clinic["biotin"], "1", "mL")], name="Biotin only")
    b5 = make_batch(1, patient=None, cocktail=biotin_only)
    given = []
    for course, batch in ((course_a, b1), (course_c, b3)):
        r = practitioner_api.post(f"sessions/{course['sessions'][0]['id']}/administrations",
                                  json={**GIVE, "batch_id": batch.id})
        assert r.status_code == 201, r.get_json()
        given.append(r.get_json()["id"])
    return {"ana": ana, "bea": bea, "cal": cal, "b1": b1, "b2": b2, "b3": b3, "b4": b4,
            "b5": b5, "administrations": given, "lot": clinic["lido_lot"],
            "pharmacist": clinic["preparer"]}


@pytest.fixture
def recall_lot(api):
    """``recall_lot(lot, client=None)``: recall it through the API (a pharmacist); the
    recall's id."""

    def recall(lot, client=None, reason="Supplier recall 24-117: particles"):
        client = client or api("pharmacist")
        r = client.post(f"lots/{lot.id}/status", json={"status": "recalled", "reason": reason})
        assert r.status_code == 200, r.get_json()
        from formulary.recalls.services import recall_of_lot

        db.session.expire_all()
        return recall_of_lot(db.session, lot.id).id

    return recall


def audit_actions(action_prefix: str = "") -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(a, o) for a, o in db.session.execute(
        select(AuditEntry.action, AuditEntry.object_id).order_by(AuditEntry.seq)).all()
        if a.startswith(action_prefix)]
