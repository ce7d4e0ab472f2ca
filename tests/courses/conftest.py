"""Fixtures of the course tests: a stocked cocktail, verified batches, a patient and the
API clients of the roles that record and read courses."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from formulary import clock
from formulary.audit.models import AuditEntry
from formulary.compounding import services as batch_services
from formulary.courses.models import (Administration, AdministrationLine, AdverseEvent, Consent,
                                      ConsentText, Course, CourseSession)
from formulary.domain.errors import DomainError
from formulary.extensions import db


def D(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def clinic(make_ingredient, make_lot, make_cocktail, make_patient, make_user):
    """Biotin (no maximum) and lidocaine 20 mg/mL (at most 100 mg a session) in one active
    scalp cocktail: 1 mL biotin + 2 mL lidocaine (40 mg) a dose, so 2 doses in a session
    are allowed and 3 are not. Two pharmacists (one prepares, the other verifies)."""
    biotin = make_ingredient("Biotin 5 mg/mL", unit="mL")
    lido = make_ingredient("Lidocaine 2%", unit="mL", category="anesthetic",
                           strength=(20, "mg"), max_dose=(100, "mg"))
    today = clock.today()
    biotin_lot = make_lot(biotin, "100", expiry=today + timedelta(days=200), lot_number="BIO-1")
    lido_lot = make_lot(lido, "100", expiry=today + timedelta(days=300), lot_number="LID-1")
    cocktail = make_cocktail([(biotin, "1", "mL"), (lido, "2", "mL")], name="Scalp mix",
                             area="scalp", indication="hair loss")
    return {"biotin": biotin, "lido": lido, "biotin_lot": biotin_lot, "lido_lot": lido_lot,
            "cocktail": cocktail, "patient": make_patient(),
            "preparer": make_user("pharmacist"), "checker": make_user("pharmacist")}


@pytest.fixture
def make_batch(clinic, app):
    """``make_batch(doses, patient=..., verify=True)``: a batch prepared now (beyond-use
    24 h in the fridge), verified by the second pharmacist, committed."""

    def make(doses=3, *, patient="course", verify=True, cocktail=None, override_reason=None):
        if patient == "course":
            patient = clinic["patient"]
        batch = batch_services.prepare_batch(
            db.session, clinic["preparer"], cocktail=cocktail or clinic["cocktail"], doses=doses,
            patient=patient, tz=clock.clinic_tz(), override_reason=override_reason,
            policy=batch_services.policy_from_hours(app.config["BEYOND_USE_HOURS"]))
        if verify:
            batch_services.verify_batch(db.session, clinic["checker"], batch)
        db.session.commit()
        return batch

    return make


@pytest.fixture
def practitioner_api(api):
    return api("practitioner")


@pytest.fixture
def start_course(practitioner_api, clinic):
    """``start_course(consent=True, **fields)``: a course of 6 sessions every 14 days from
    today, with a consent recorded (the API's answer for the course)."""

    def start(*, consent=True, client=None, **fields):
        client = client or practitioner_api
        body = {"patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
                "planned_sessions": 6, "interval_days": 14,
                "start_date": clock.today().isoformat(), **fields}
        r = client.post("courses", json=body)
        assert r.status_code == 201, r.get_json()
        course = r.get_json()
        if consent:
            text = client.post("consent-texts", json={"area": course["area"], "title": "Scalp",
                                                      "body": "I agree."})
            assert text.status_code == 201, text.get_json()
            r = client.post(f"courses/{course['id']}/consents", json={
                "consent_text_id": text.get_json()["id"],
                "consented_on": clock.today().isoformat()})
            assert r.status_code == 201, r.get_json()
        return course

    return start


def counts() -> dict:
    """Rows of every course table and of the audit log: a refused action changes none."""
    db.session.expire_all()
    return {m.__name__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Course, CourseSession, ConsentText, Consent, Administration,
                      AdministrationLine, AdverseEvent, AuditEntry)}


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def run_together(app, works, timeout: int = 60) -> list[str]:
    """Each of ``works`` in a thread of its own (its own session and connection): the
    work is called (loading what it needs) and gives the action, which the threads start
    together at a barrier, then commit. The outcomes: "ok", "<status> <code>" for a
    refusal, or the exception's repr."""
    from formulary.domain.errors import DomainError

    barrier = threading.Barrier(len(works))
    outcomes: list[str] = []

    def run(work):
        with app.app_context():
            try:
                action = work()
                barrier.wait(timeout=30)
                action()
                db.session.commit()
                outcomes.append("ok")
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(f"{exc.status} {exc.code}")
            except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
                db.session.rollback()
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def race(app, actions) -> list[str]:
    """Each ``action()`` in a thread of its own, all let go together at a barrier (each
    loads what it needs after it): the outcomes of :func:`run_together`, sorted."""
    return sorted(run_together(app, [lambda a=a: a for a in actions]))
