"""A request larger than MAX_CONTENT_LENGTH (config.py) is refused with 413 before its body
is read: the API's envelope (code ``too_large``), a page's error message; nothing changes.
A body sent without a length is cut off where it passes the limit, the same 413."""

from __future__ import annotations

import io

import pytest
from werkzeug.wsgi import get_content_length

from formulary import clock
from tests.courses.scanfiles import pdf
from tests.hostile.conftest import assert_refused, harness_tempfiles, table_counts

OVER = 17 * 2**20  # the default limit is 16 MB


def test_the_limit_leaves_room_for_the_largest_upload(app):
    from formulary.domain.scans import MAX_SCAN_BYTES
    from formulary.reports.services import MAX_UPLOAD_BYTES

    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit >= max(MAX_SCAN_BYTES, MAX_UPLOAD_BYTES) + 2**20


def test_an_oversize_json_body_is_413_in_the_envelope(world, api):
    w = world
    before = table_counts()
    body = b'{"name": "' + b"x" * OVER + b'"}'
    r = w["api"].post(f"courses/{w['course']['id']}/consents", data=body,
                      headers={"Content-Type": "application/json"})
    assert_refused(r, 413, "too_large", "oversize JSON")
    assert "16 MB" in r.get_json()["error"]["message"]
    assert table_counts() == before


def test_an_oversize_body_without_a_length_is_cut_off(world, client):
    """Chunked: no Content-Length to refuse up front; werkzeug stops reading at the limit."""
    w = world
    before = table_counts()
    body = io.BytesIO(b'{"reason": "' + b"x" * OVER + b'"}')
    r = client.post(f"/api/v1/courses/{w['course']['id']}/consents", input_stream=body,
                    headers={**w["api"].headers, "Content-Type": "application/json",
                             "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})
    assert get_content_length(r.request.environ) is None  # no length to refuse up front
    assert_refused(r, 413, "too_large", "chunked oversize JSON")
    assert table_counts() == before


def course_without_consent(w) -> dict:
    r = w["api"].post("courses", json={
        "patient_id": w["bea"].id, "cocktail_id": w["clinic"]["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": clock.today().isoformat()})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def post_scan(w, course, size: int):
    with harness_tempfiles() as posted:
        r = w["api"].post(f"courses/{course['id']}/consents", json=None, data={
            "consent_text_id": str(w["text_id"]), "consented_on": clock.today().isoformat(),
            "scan": (io.BytesIO(pdf() + b"0" * size), "consent.pdf")},
            content_type="multipart/form-data")
        posted.append(r)
    return r


def test_an_oversize_api_scan_is_413_and_no_consent(world):
    course = course_without_consent(world)
    before = table_counts()
    assert_refused(post_scan(world, course, OVER), 413, "too_large", "oversize scan")
    assert table_counts() == before


@pytest.mark.parametrize("lang,words", [("en", "16 MB"), ("fr", "16 Mo")])
def test_an_oversize_delivery_sheet_on_the_page_is_a_clear_413(app, client, login_as, lang, words):
    user = login_as("pharmacist")
    if lang != "en":
        from formulary.extensions import db

        user.locale = lang
        db.session.commit()
    token = client.csrf_token("/reports/")
    before = table_counts()
    with harness_tempfiles() as posted:
        r = client.post("/reports/delivery", data={
            "csrf_token": token, "file": (io.BytesIO(b"PK" + b"0" * OVER), "delivery.xlsx")},
            content_type="multipart/form-data")
        posted.append(r)
    text = r.get_data(as_text=True)
    assert r.status_code == 413 and "text/html" in r.content_type
    assert 'data-testid="error-message"' in text and words in text, text[-2000:]
    assert table_counts() == before


def test_a_scan_just_over_10_mb_keeps_its_own_refusal(world):
    """Under the request's limit: the scan's check answers, naming the field."""
    course = course_without_consent(world)
    before = table_counts()
    r = post_scan(world, course, 10 * 2**20)
    assert_refused(r, 422, what="scan just over 10 MB")
    assert "scan" in r.get_json()["error"]["fields"]
    assert table_counts() == before
