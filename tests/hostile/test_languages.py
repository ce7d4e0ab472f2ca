"""Hostile language choices (SPEC §13): an Accept-Language header that is malformed, huge
or names no language the app has; a profile asking for an unknown locale; French numbers
and dates typed where the API wants its own form. The answer is in a language the app
has (English by default), never a 500; the API's codes stay English."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_refused

HEADERS = ["xx", "*", "fr;q=abc", "fr;q=-1", "fr;q=2", ";;;,,,", "fr-FR" * 2000,
           "zh-Hant-TW-x-private", "en;q=0, fr;q=0", "\u00e9", "fr, en;q=0.5, *;q=0.1"]


@pytest.mark.parametrize("header", HEADERS, ids=range(len(HEADERS)))
def test_a_malformed_accept_language_is_answered(world, client, login_as, header):
    w = world
    r = w["api"].post("courses", json={"patient_id": "x"}, headers={"Accept-Language": header})
    assert_refused(r, 422, "invalid", header[:20])
    login_as("practitioner")
    page = client.get(f"/courses/{w['course']['id']}", headers={"Accept-Language": header})
    assert page.status_code == 200
    assert page.headers.get("Content-Language", "en")[:2] in ("en", "fr")


def test_french_messages_keep_english_codes(world):
    w = world
    r = w["api"].patch(f"sessions/{w['session']['id']}", json={"status": "given", "reason": "x1"},
                       headers={"Accept-Language": "fr-FR"})
    assert_refused(r, 422, "invalid")
    assert list(r.get_json()["error"]["fields"]) == ["status"]


@pytest.mark.parametrize("value", ["2,5", "1 000", "1.000,5", "٣"])
def test_a_french_number_in_the_api_is_refused_not_misread(world, value):
    """The API's quantities are decimal strings with a point (SPEC §9): a comma is not
    read as a point there (it is on the French pages), and nothing is written."""
    from tests.hostile.conftest import table_counts

    w = world
    before = table_counts()
    r = w["api"].post(f"sessions/{w['session']['id']}/administrations",
                      json={"doses": 1, "sites": "crown", "technique": "nappage",
                            "batch_id": w["batch"].id, "depth_mm": value},
                      headers={"Accept-Language": "fr-FR"})
    assert_refused(r, 422, what=value)
    assert table_counts() == before
