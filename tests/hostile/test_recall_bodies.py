"""Hostile bodies and ids on the recall worklist (SPEC §9, §12): a status outside the four,
a note the database cannot hold, a patient the recall never reached, an unknown recall, a
role that may not, a double click. A 4xx with the envelope; the worklist and the audit unchanged."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_refused, table_counts
from tests.recalls.conftest import recall_lot, reached  # noqa: F401

BODIES = [
    ({"status": "called"}, 422), ({"status": "CONTACTED"}, 422), ({"status": None}, 422),
    ({"status": ["contacted"]}, 422), ({"status": 1}, 422), ({}, 422),
    ({"status": "contacted", "note": "a\x00b"}, 422), ({"status": "contacted", "note": 5}, 422),
    ({"status": "contacted", "note": "x" * 1001}, 422),
    ({"status": "contacted", "extra": 1}, 422),
]


def test_hostile_worklist_changes_are_refused(app, reached, recall_lot, api, make_patient):  # noqa: F811
    app.config["PROPAGATE_UNEXPECTED"] = False
    recall_id = recall_lot(reached["lot"])
    pharmacist = api("pharmacist")
    stranger = make_patient(first_name="Zoe")
    before = table_counts()
    failures = []
    url = f"recalls/{recall_id}/patients/{reached['ana'].id}"
    for body, status in BODIES:
        try:
            assert_refused(pharmacist.patch(url, json=body), status, what=repr(body)[:80])
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:200])
    for what, target in (("a patient the recall never reached", f"recalls/{recall_id}/patients/{stranger.id}"),
                         ("an unknown recall", f"recalls/999999/patients/{reached['ana'].id}"),
                         ("an id past the column", f"recalls/{10**30}/patients/{reached['ana'].id}")):
        try:
            assert_refused(pharmacist.patch(target, json={"status": "contacted"}), 404,
                           "not_found", what)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:200])
    for raw in (b"", b"{", b"[]", b'"contacted"', b"\xff"):
        r = pharmacist.patch(url, data=raw, headers={"Content-Type": "application/json"})
        try:
            assert_refused(r, 400, "malformed", repr(raw))
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:200])
    for role in ("manager",):  # a practitioner may: the one who rings the patient (RECALLS)
        try:
            assert_refused(api(role).patch(url, json={"status": "contacted"}), 403, "forbidden", role)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:200])
        before = table_counts()  # a new user and token were made for the role
    assert not failures, "\n".join(failures)
    assert table_counts() == before


@pytest.mark.parametrize("status", ["contacted", "unreachable", "not_needed"])
def test_a_second_identical_change_is_harmless(app, reached, recall_lot, api, status):  # noqa: F811
    """A double click: the second answer is the same, the worklist says it once."""
    recall_id = recall_lot(reached["lot"])
    pharmacist = api("pharmacist")
    url = f"recalls/{recall_id}/patients/{reached['ana'].id}"
    first = pharmacist.patch(url, json={"status": status, "note": "rang twice"})
    second = pharmacist.patch(url, json={"status": status, "note": "rang twice"})
    assert first.status_code == second.status_code == 200, (first.get_json(), second.get_json())
    assert second.get_json()["patient"]["status"] == status
