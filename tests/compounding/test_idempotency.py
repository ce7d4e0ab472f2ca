"""The same idempotency key with a different request is refused (SPEC §7, §9): 409
``idempotency_mismatch`` and nothing written, never the first batch answered in its place
(which hid the safety block from the pharmacist). The same key with the same request
still answers the first batch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.compounding import services
from formulary.domain.errors import IdempotencyMismatch
from formulary.extensions import db
from tests.compounding.conftest import TZ, D, counts, on_hand


def written() -> tuple:
    """Everything a preparation writes: batches, lines, movements, audit entries."""
    db.session.expire_all()
    return (*counts(), db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def _post(client, stocked, **body):
    body.setdefault("cocktail_id", stocked["cocktail"].id)
    body.setdefault("doses", 2)
    return client.post("batches", json=body)


def _refused(r) -> None:
    assert r.status_code == 409, r.json
    assert r.json["error"]["code"] == "idempotency_mismatch"
    assert "idempotency_key" in r.json["error"]["fields"]


@pytest.fixture
def plain(make_cocktail, stocked):
    """Another active cocktail, of biotin alone."""
    return make_cocktail([(stocked["biotin"], "1", "mL")], name="Biotin alone")


def test_same_key_other_cocktail_or_doses_is_refused(api, stocked, plain):
    client = api("pharmacist")
    first = _post(client, stocked, idempotency_key="k1")
    assert first.status_code == 201
    before = written()
    _refused(_post(client, stocked, idempotency_key="k1", cocktail_id=plain.id))
    _refused(_post(client, stocked, idempotency_key="k1", doses=3))
    assert written() == before and on_hand(stocked["sooner"]) == D(1)
    again = _post(client, stocked, idempotency_key="k1")
    assert again.status_code == 200 and again.json == first.json
    assert written() == before


def test_same_key_for_another_patient_is_refused_not_the_first_batch(api, stocked, make_patient):
    """The retry names a pregnant patient whom the screen blocks: answering the batch made
    for the first patient would have hidden the block."""
    client = api("pharmacist")
    ana = make_patient(first_name="Ana")
    pregnant = make_patient(first_name="Bea", conditions=("pregnant",))
    first = _post(client, stocked, idempotency_key="k2", patient_id=ana.id)
    assert first.status_code == 201
    before = written()
    _refused(_post(client, stocked, idempotency_key="k2", patient_id=pregnant.id))
    _refused(_post(client, stocked, idempotency_key="k2"))  # no patient at all
    assert written() == before
    # a key first used with no patient
    first = _post(client, stocked, idempotency_key="k3", doses=1)
    assert first.status_code == 201
    before = written()
    _refused(_post(client, stocked, idempotency_key="k3", doses=1, patient_id=pregnant.id))
    assert written() == before
    # a new key meets the safety screen, as it should
    r = _post(client, stocked, idempotency_key="k4", doses=1, patient_id=pregnant.id)
    assert r.status_code == 409 and r.json["error"]["code"] == "safety_block"


def test_same_key_with_another_override_reason_is_refused(api, stocked, make_patient):
    client = api("pharmacist")
    pregnant = make_patient(conditions=("pregnant",))
    first = _post(client, stocked, idempotency_key="k5", patient_id=pregnant.id,
                  override_reason="Obstetrician agreed")
    assert first.status_code == 201 and first.json["override_reason"] == "Obstetrician agreed"
    before = written()
    _refused(_post(client, stocked, idempotency_key="k5", patient_id=pregnant.id,
                   override_reason="Patient insisted"))
    _refused(_post(client, stocked, idempotency_key="k5", patient_id=pregnant.id))
    assert written() == before
    again = _post(client, stocked, idempotency_key="k5", patient_id=pregnant.id,
                  override_reason="  Obstetrician agreed ")  # cleaned as the first one was
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert written() == before


def test_same_key_same_request_is_the_first_batch(api, stocked, make_patient):
    client = api("pharmacist")
    patient = make_patient(allergy_status="unknown")  # caution: a reason is not needed nor kept
    body = {"idempotency_key": "k6", "patient_id": patient.id, "override_reason": "just in case"}
    first = _post(client, stocked, **body)
    assert first.status_code == 201 and first.json["override_reason"] is None
    before = written()
    again = _post(client, stocked, **body)
    assert again.status_code == 200 and again.json == first.json
    assert written() == before and before[0] == 1


def test_service_refuses_the_mismatch(stocked, pharmacist, prepare, session):
    first = prepare(pharmacist, stocked["cocktail"], 2, idempotency_key="k7")
    before = written()
    with pytest.raises(IdempotencyMismatch) as info:
        services.prepare_batch(session, pharmacist, cocktail=stocked["cocktail"], doses=4,
                               idempotency_key="k7", tz=TZ)
    assert first.batch_number in info.value.message and "doses" in info.value.message
    session.rollback()
    assert written() == before


def _key(html: str) -> str:
    match = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="idempotency_key"',
                      html)
    return match.group(1) or match.group(2)


def test_page_double_submit_key_obeys_the_same_rule(client, login_as, stocked):
    login_as("pharmacist")
    url = f"/batches/new?cocktail_id={stocked['cocktail'].id}&doses=2&patient_mrn="
    key = _key(client.get(url).get_data(as_text=True))
    data = {"cocktail_id": stocked["cocktail"].id, "doses": 2, "patient_mrn": "", "idempotency_key": key}
    r = client.post_form("/batches/new", data, form_url=url)
    assert r.status_code == 302
    location = r.headers["Location"]
    before = written()
    r = client.post_form("/batches/new", dict(data, doses=3), form_url=url)  # an edited resubmit
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "already used to prepare batch" in html and "doses" in html
    assert written() == before
    r = client.post_form("/batches/new", data, form_url=url)  # the double click
    assert r.status_code == 302 and r.headers["Location"] == location
    assert written() == before
