"""A consent with its scanned signed form through the API (multipart), on both databases:
checked by content, kept with the consent, nothing written when refused."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select

from formulary import clock
from formulary.courses.models import ConsentScan
from formulary.extensions import db
from tests.courses.conftest import counts
from tests.courses.scanfiles import jpeg, pdf


def _post(client, course, text_id, content: bytes | None, name="form.pdf", **fields):
    data = {"consent_text_id": str(text_id), "consented_on": clock.today().isoformat(),
            **fields}
    if content is not None:
        data["scan"] = (io.BytesIO(content), name)
    return client.post(f"courses/{course['id']}/consents", data=data,
                       content_type="multipart/form-data")


@pytest.fixture
def course_and_text(practitioner_api, start_course):
    course = start_course(consent=False)
    text = practitioner_api.post("consent-texts", json={"area": "scalp", "title": "Scalp",
                                                         "body": "I agree."}).get_json()
    return course, text["id"]


@pytest.mark.parametrize("content, kind", [(pdf(), "application/pdf"), (jpeg(), "image/jpeg")])
def test_a_consent_with_its_signed_form(practitioner_api, course_and_text, content, kind):
    course, text_id = course_and_text
    r = _post(practitioner_api, course, text_id, content, name="../../etc/signed.PDF")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["scan"]["content_type"] == kind and body["scan"]["size"] == len(content)
    assert body["scan"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["scan"]["filename"].startswith("signed.")  # no path kept from the name
    stored = db.session.execute(select(ConsentScan)).scalar_one()
    assert stored.consent_id == body["id"]


def test_without_a_file_multipart_records_the_consent_alone(practitioner_api, course_and_text):
    course, text_id = course_and_text
    r = _post(practitioner_api, course, text_id, None)
    assert r.status_code == 201 and "scan" not in r.get_json()


@pytest.mark.parametrize("content, fields, status, field", [
    (b"MZ\x90\x00 a program renamed .pdf", {}, 422, "scan"),
    (pdf()[:-10], {}, 422, "scan"),
    (pdf(), {"withdrawn_on": "2026-01-01"}, 422, "withdrawn_on"),   # not a multipart field
    (pdf(), {"consented_on": "tomorrow"}, 422, "consented_on"),
])
def test_refusals_write_nothing(practitioner_api, course_and_text, content, fields, status,
                                field):
    course, text_id = course_and_text
    before = counts()
    r = _post(practitioner_api, course, text_id, content, **fields)
    assert r.status_code == status, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert counts() == before
    assert db.session.execute(select(ConsentScan)).first() is None


def test_a_pharmacist_cannot_record_a_consent(api, course_and_text):
    course, text_id = course_and_text
    assert _post(api("pharmacist"), course, text_id, pdf()).status_code == 403


def test_a_name_in_any_script_is_kept_as_plain_ascii(practitioner_api, course_and_text):
    course, text_id = course_and_text
    r = _post(practitioner_api, course, text_id, pdf(), name="同意书 signé.pdf")
    assert r.status_code == 201
    assert r.get_json()["scan"]["filename"] == "sign.pdf"
    consent_id = r.get_json()["id"]
    from formulary.courses.models import Consent

    assert db.session.get(Consent, consent_id) is not None
