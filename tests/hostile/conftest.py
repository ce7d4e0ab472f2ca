"""The hostile tests' world: a clinic with two patients, each on a course with a consent, a
verified batch made for each, one administration with an adverse event, and the clients of
every role. Every attack is checked the same way: a 4xx with the error envelope (SPEC §9),
never a 500, and not one row written anywhere (audit and ledger included)."""

from __future__ import annotations

import contextlib
import gc
import warnings

import pytest

from formulary import clock
from formulary.extensions import db
from tests.courses.conftest import clinic, make_batch, practitioner_api, start_course  # noqa: F401
from tests.security.fixtures import table_counts

GIVE = {"doses": 1, "sites": "vertex and crown, 60 points", "technique": "nappage"}


@pytest.fixture
def world(app, clinic, make_batch, start_course, practitioner_api, make_patient, api):  # noqa: F811
    ana = clinic["patient"]
    bea = make_patient(first_name="Bea", last_name="Bravo")
    course = start_course()
    other_course = start_course(patient_id=bea.id)
    batch = make_batch(3)
    bea_batch = make_batch(2, patient=bea)
    r = practitioner_api.post(f"sessions/{course['sessions'][0]['id']}/administrations",
                              json={**GIVE, "batch_id": batch.id})
    assert r.status_code == 201, r.get_json()
    adm = r.get_json()
    r = practitioner_api.post(f"administrations/{adm['id']}/adverse-events", json={
        "onset": clock.today().isoformat(), "kind": "bruising", "severity": "mild",
        "serious": False})
    assert r.status_code == 201, r.get_json()
    event = r.get_json()
    from formulary.courses.models import ConsentText

    text_id = db.session.execute(db.select(ConsentText.id).order_by(ConsentText.id)).scalars().first()
    db.session.commit()
    return {"ana": ana, "bea": bea, "course": course, "other_course": other_course,
            "batch": batch, "bea_batch": bea_batch, "adm": adm, "event": event,
            "session": course["sessions"][1], "other_session": other_course["sessions"][0],
            "text_id": text_id, "api": practitioner_api, "clinic": clinic}


def assert_refused(response, status=None, code=None, what=""):
    """A 4xx with the API's error envelope (and the status and code given)."""
    text = response.get_data(as_text=True)[:400]
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {text}"
    if status is not None:
        assert response.status_code == status, f"{what}: {response.status_code} {text}"
    body = response.get_json(silent=True)
    assert body and isinstance(body.get("error"), dict), f"{what}: no envelope: {text}"
    assert isinstance(body["error"].get("code"), str) and body["error"].get("message"), what
    if code is not None:
        assert body["error"]["code"] == code, f"{what}: {body}"


def collect_refusal(response, what, failures) -> None:
    """For the tables that try many attacks and fail once at the end: a 5xx, or a 4xx
    without the error envelope (``assert_refused``), is added to ``failures``."""
    if response.status_code >= 500:
        failures.append(f"{what}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    elif response.status_code >= 400:
        try:
            assert_refused(response, what=what)
        except AssertionError as exc:
            failures.append(str(exc)[:200])


@contextlib.contextmanager
def harness_tempfiles():
    """Around a large upload: werkzeug's test client encodes a large multipart body in a
    temporary file of its own that it never closes (a bare Flask app shows the same): the
    harness's, not the app's, which closes every upload it reads. Append each response to
    the list given: its request's body file is closed here, before the collector can warn
    about it in a later test."""
    responses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield responses
        for response in responses:
            response.request.environ["wsgi.input"].close()
        responses.clear()
        gc.collect()


__all__ = ["GIVE", "assert_refused", "collect_refusal", "harness_tempfiles", "table_counts"]
