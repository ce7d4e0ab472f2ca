"""The recall response (SPEC §12): recalling a lot opens its recall with every batch that
used it (on hold), every administration of those batches and every patient they reached;
the worklist's statuses, who set them and when; the recall closes when no patient is left
to contact and opens again when one is set back. Services and API, on both databases."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.compounding import services as batch_services
from formulary.compounding.state import state_of
from formulary.domain.errors import NotFound, ValidationError
from formulary.extensions import db
from formulary.inventory import lots as lot_services
from formulary.inventory.models import Lot
from formulary.recalls import services
from formulary.recalls.models import Recall, RecallBatch, RecallPatient
from tests.recalls.conftest import audit_actions


def _rows(model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _worklist(recall_id):
    db.session.expire_all()
    return {r.patient_id: r for r in db.session.execute(
        select(RecallPatient).where(RecallPatient.recall_id == recall_id)).scalars()}


def test_recalling_a_lot_opens_its_recall(reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    recall = db.session.get(Recall, recall_id)
    assert (recall.lot_id, recall.status, recall.closed_at) == (reached["lot"].id, "open", None)
    assert recall.reason == "Supplier recall 24-117: particles"
    assert recall.opened_by_id is not None
    batch_ids = set(db.session.execute(select(RecallBatch.batch_id)
                                       .where(RecallBatch.recall_id == recall_id)).scalars())
    # Every batch that used the lot, whatever its state; not the batch of biotin only.
    assert batch_ids == {reached[b].id for b in ("b1", "b2", "b3", "b4")}
    worklist = _worklist(recall_id)
    # Ana: her batch and its administration; Bea: a batch made for her; Cal: given a batch
    # made for no one. Nobody for b4.
    assert set(worklist) == {reached["ana"].id, reached["bea"].id, reached["cal"].id}
    assert {r.status for r in worklist.values()} == {"to_contact"}
    assert all(r.set_by_id is None and r.set_at is None for r in worklist.values())
    wl = services.worklist(db.session, recall)
    assert sorted(a.id for a in wl.administrations) == sorted(reached["administrations"])
    reached_by = {p.patient.id: p.how_reached for p in wl.patients}
    assert reached_by[reached["bea"].id].startswith("batch made for them, not given")
    assert reached_by[reached["cal"].id].startswith(f"given {reached['b3'].batch_number}")
    # The batches read on hold by the one state rule; the biotin-only batch does not.
    for name in ("b1", "b2", "b3", "b4"):
        assert state_of(batch_services.get_batch(db.session, reached[name].id)).state == "on_hold"
    assert state_of(batch_services.get_batch(db.session, reached["b5"].id)).state == "verified"
    opened = db.session.execute(select(AuditEntry).where(AuditEntry.action == "recall.open")).scalar_one()
    assert opened.object_id == str(recall_id)
    assert "4 batch(es), 2 administration(s), 3 patient(s)" in opened.summary


def test_a_second_recall_of_the_lot_is_refused_and_writes_nothing(reached, recall_lot, api):
    recall_lot(reached["lot"])
    client = api("pharmacist")
    before = (_rows(Recall), _rows(RecallPatient), _rows(AuditEntry))
    r = client.post(f"lots/{reached['lot'].id}/status",
                               json={"status": "recalled", "reason": "again"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_state"
    assert (_rows(Recall), _rows(RecallPatient), _rows(AuditEntry)) == before


def test_the_recall_and_the_lot_status_are_one_transaction(reached, monkeypatch):
    """A failure while opening the recall leaves the lot as it was."""
    def broken(*_a, **_k):
        raise ValidationError("boom", field="status")

    monkeypatch.setattr(lot_services, "open_recall", broken)
    lot = db.session.get(Lot, reached["lot"].id)
    with pytest.raises(ValidationError):
        lot_services.set_lot_status(db.session, reached["pharmacist"], lot, status="recalled",
                                    reason="supplier")
    db.session.rollback()
    assert db.session.get(Lot, reached["lot"].id).status == "available"
    assert _rows(Recall) == 0


def test_quarantine_and_release_open_no_recall(reached, api):
    client = api("pharmacist")
    for status in ("quarantined", "available"):
        r = client.post(f"lots/{reached['lot'].id}/status", json={"status": status, "reason": "fridge"})
        assert r.status_code == 200
    assert _rows(Recall) == 0


def test_a_recall_that_reached_nobody_is_closed_from_the_start(clinic, make_batch, recall_lot):
    make_batch(1, patient=None)
    recall = db.session.get(Recall, recall_lot(clinic["lido_lot"]))
    assert recall.status == "closed" and recall.closed_at == recall.opened_at
    assert _rows(RecallBatch) == 1 and _rows(RecallPatient) == 0


def test_statuses_who_and_when_then_close_and_reopen(reached, recall_lot, api):
    recall_id = recall_lot(reached["lot"])
    client = api("practitioner")
    at = datetime(2026, 12, 5, 10, 30, tzinfo=timezone.utc)
    answers = {}
    with time_machine.travel(at, tick=False):
        for who, status, note in (("ana", "contacted", "Called; no reaction, review in 2 weeks"),
                                  ("bea", "not_needed", "Batch never given")):
            r = client.patch(f"recalls/{recall_id}/patients/{reached[who].id}",
                             json={"status": status, "note": note})
            assert r.status_code == 200, r.get_json()
            assert r.headers["Cache-Control"] == "no-store"
            answers[who] = r.get_json()
    assert answers["bea"]["recall_status"] == "open"          # Cal is still to contact
    assert answers["ana"]["patient"]["set_by"] == client.user.username
    assert answers["ana"]["patient"]["set_at"].startswith("2026-12-05T11:30")  # Paris
    row = _worklist(recall_id)[reached["ana"].id]
    assert (row.status, row.note, row.set_by_id) == ("contacted", "Called; no reaction, review in 2 weeks",
                                                    client.user.id)
    assert row.set_at == at

    r = client.patch(f"recalls/{recall_id}/patients/{reached['cal'].id}",
                     json={"status": "unreachable", "note": "Three calls, a letter sent"})
    assert r.get_json()["recall_status"] == "closed"
    recall = db.session.get(Recall, recall_id)
    assert recall.status == "closed" and recall.closed_at is not None

    # Set back: the recall opens again; the note is kept when none is given.
    r = client.patch(f"recalls/{recall_id}/patients/{reached['cal'].id}", json={"status": "to_contact"})
    assert r.get_json()["recall_status"] == "open"
    assert r.get_json()["patient"]["note"] == "Three calls, a letter sent"
    db.session.expire_all()
    recall = db.session.get(Recall, recall_id)
    assert recall.status == "open" and recall.closed_at is None
    actions = [a for a, _ in audit_actions("recall.")]
    assert actions == ["recall.open", "recall.patient_status", "recall.patient_status",
                       "recall.patient_status", "recall.close", "recall.patient_status",
                       "recall.reopen"]
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "recall.patient_status")
                               .order_by(AuditEntry.seq)).scalars().first()
    assert entry.username == client.user.username and entry.reason.startswith("Called")
    assert '"to_contact"' in entry.before and '"contacted"' in entry.after


@pytest.mark.parametrize("body, code, field", [
    ({"status": "called"}, 422, "status"),
    ({}, 422, "status"),
    ({"status": 3}, 422, "status"),
    ({"status": "contacted", "note": "!!!"}, 422, "note"),       # no letter or digit
    ({"status": "contacted", "note": "x" * 1001}, 422, "note"),
    ({"status": "contacted", "who": "me"}, 422, "who"),          # unknown field
])
def test_a_bad_status_is_refused_and_writes_nothing(reached, recall_lot, api, body, code, field):
    recall_id = recall_lot(reached["lot"])
    client = api("pharmacist")
    before = (_rows(AuditEntry), {k: v.status for k, v in _worklist(recall_id).items()})
    r = client.patch(f"recalls/{recall_id}/patients/{reached['ana'].id}", json=body)
    assert r.status_code == code, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert (_rows(AuditEntry), {k: v.status for k, v in _worklist(recall_id).items()}) == before


def test_unknown_recall_or_patient_is_404(reached, recall_lot, api, make_patient):
    recall_id = recall_lot(reached["lot"])
    stranger = make_patient(last_name="Stranger")
    client = api("pharmacist")
    for url in (f"recalls/{recall_id + 1}/patients/{reached['ana'].id}",
                f"recalls/{recall_id}/patients/{stranger.id}", f"recalls/{recall_id + 1}"):
        method = client.get if url.count("/") == 1 else client.patch
        r = method(url, json={"status": "contacted"})
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found", url
    with pytest.raises(NotFound):
        services.set_patient_status(db.session, client.user, recall_id, stranger.id,
                                    status="contacted")


def test_api_list_and_read(reached, recall_lot, api, clinic, make_batch):
    first = recall_lot(reached["lot"])
    # A second recall, of the biotin lot, closed by dealing with everyone it reached.
    second = recall_lot(clinic["biotin_lot"])
    client = api("pharmacist")
    for patient in _worklist(second):
        assert client.patch(f"recalls/{second}/patients/{patient}",
                            json={"status": "not_needed"}).status_code == 200
    r = client.get("recalls")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == [first, second]  # open first
    item = body["items"][0]
    assert item["lot_id"] == reached["lot"].id and item["status"] == "open"
    assert sorted(item["batches"]) == sorted(reached[b].id for b in ("b1", "b2", "b3", "b4"))
    assert {p["patient_id"] for p in item["patients"]} == {reached[p].id for p in ("ana", "bea", "cal")}
    assert set(item["patients"][0]) >= {"patient_id", "status", "note", "set_by", "set_at"}
    assert [i["id"] for i in client.get("recalls?status=closed").get_json()["items"]] == [second]
    assert client.get(f"recalls?lot_id={reached['lot'].id}").get_json()["total"] == 1
    assert client.get(f"recalls?patient_id={reached['bea'].id}").get_json()["total"] == 2
    page = client.get("recalls?per_page=1&page=2").get_json()
    assert (page["total"], [i["id"] for i in page["items"]]) == (2, [second])
    assert client.get("recalls?status=done").status_code == 422
    assert client.get("recalls?per_page=501").status_code == 422

    one = client.get(f"recalls/{first}").get_json()
    assert sorted(a["id"] for a in one["administrations"]) == sorted(reached["administrations"])
    assert one["reason"] == "Supplier recall 24-117: particles"


def test_every_patient_shown_is_audited_as_a_view(reached, recall_lot, api):
    recall_id = recall_lot(reached["lot"])
    client = api("practitioner")
    before = _rows(AuditEntry)
    assert client.get(f"recalls/{recall_id}").status_code == 200
    views = db.session.execute(select(AuditEntry.object_id).where(
        AuditEntry.action == "patient.view", AuditEntry.object_type == "patient")
        .order_by(AuditEntry.seq)).scalars().all()
    assert sorted(views) == sorted(str(reached[p].id) for p in ("ana", "bea", "cal"))
    assert _rows(AuditEntry) == before + 3


@pytest.mark.parametrize("role, list_, read, patch, export", [
    ("admin", 200, 200, 200, 200),
    ("pharmacist", 200, 200, 200, 200),
    ("practitioner", 200, 200, 200, 403),   # works the worklist; exports are not hers
    ("manager", 403, 403, 403, 403),        # no patient data: the pages' list and counts
])
def test_api_permissions(reached, recall_lot, api, role, list_, read, patch, export):
    recall_id = recall_lot(reached["lot"])
    client = api(role)
    assert client.get("recalls").status_code == list_
    assert client.get(f"recalls/{recall_id}").status_code == read
    assert client.patch(f"recalls/{recall_id}/patients/{reached['ana'].id}",
                        json={"status": "contacted"}).status_code == patch
    assert client.get(f"recalls/{recall_id}/worklist.xlsx").status_code == export
