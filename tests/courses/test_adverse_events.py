"""Adverse events (SPEC §11): recorded on an administration, listed by ingredient, lot and
date; an allergic reaction recorded as allergies that then block the cocktail."""

from __future__ import annotations

from datetime import timedelta

from formulary import clock
from tests.courses.conftest import audit_actions, counts

GIVE = {"doses": 1, "sites": "crown", "technique": "papules"}


def _given(client, start_course, make_batch, **course):
    c = start_course(**course)
    batch = make_batch(3)
    r = client.post(f"sessions/{c['sessions'][0]['id']}/administrations",
                    json={**GIVE, "batch_id": batch.id})
    assert r.status_code == 201, r.get_json()
    return c, batch, r.get_json()


def event(client, adm_id, **fields):
    body = {"onset": clock.today().isoformat(), "kind": "bruising", "severity": "mild",
            "serious": False, **fields}
    return client.post(f"administrations/{adm_id}/adverse-events", json=body)


def test_an_event_is_recorded_and_listed_by_ingredient_lot_and_date(practitioner_api, api,
                                                                    start_course, make_batch,
                                                                    clinic, make_ingredient):
    _, _, adm = _given(practitioner_api, start_course, make_batch)
    r = event(practitioner_api, adm["id"], outcome="resolved in 5 days", action="cold pack")
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["kind"] == "bruising" and made["patient_id"] == clinic["patient"].id
    assert "adverse_event.create" in audit_actions()
    reader = api("pharmacist")
    today = clock.today()
    for query, total in [("", 1), (f"?ingredient_id={clinic['lido'].id}", 1),
                         (f"?lot_id={clinic['biotin_lot'].id}", 1),
                         (f"?ingredient_id={make_ingredient('Other').id}", 0),
                         (f"?from={today.isoformat()}&to={today.isoformat()}", 1),
                         (f"?from={(today + timedelta(days=1)).isoformat()}", 0)]:
        listed = reader.get(f"adverse-events{query}")
        assert listed.status_code == 200 and listed.get_json()["total"] == total, query
    assert api("manager").get("adverse-events").status_code == 403


def test_bad_events_are_refused_and_nothing_written(practitioner_api, start_course, make_batch):
    _, _, adm = _given(practitioner_api, start_course, make_batch)
    today = clock.today()
    for fields, field in [({"kind": "itch"}, "kind"), ({"severity": "fatal"}, "severity"),
                          ({"serious": "no"}, "serious"),
                          ({"onset": (today + timedelta(days=1)).isoformat()}, "onset"),
                          ({"onset": (today - timedelta(days=1)).isoformat()}, "onset"),
                          ({"onset": "yesterday"}, "onset")]:
        before = counts()
        r = event(practitioner_api, adm["id"], **fields)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], fields
        assert counts() == before
    assert event(practitioner_api, 999999).status_code == 404


def test_an_allergic_reaction_becomes_allergies_that_block_the_next_session(
        practitioner_api, start_course, make_batch, clinic):
    course, batch, adm = _given(practitioner_api, start_course, make_batch)
    bruise = event(practitioner_api, adm["id"]).get_json()
    assert practitioner_api.post(f"adverse-events/{bruise['id']}/allergies",
                                 json={}).status_code == 409  # not an allergic reaction
    reaction = event(practitioner_api, adm["id"], kind="allergic_reaction",
                     severity="moderate").get_json()
    r = practitioner_api.post(f"adverse-events/{reaction['id']}/allergies", json={})
    assert r.status_code == 201, r.get_json()
    allergies = r.get_json()["items"]
    assert sorted(a["ingredient_id"] for a in allergies) == sorted(
        [clinic["biotin"].id, clinic["lido"].id])  # pre-filled: every ingredient given
    assert {a["severity"] for a in allergies} == {"moderate"}
    assert {"allergy.create", "adverse_event.allergy"} <= set(audit_actions())
    # a second click finds them on file
    assert practitioner_api.post(f"adverse-events/{reaction['id']}/allergies",
                                 json={}).status_code == 409
    # the next session of that cocktail is blocked by the screen
    r = practitioner_api.post(f"sessions/{course['sessions'][1]['id']}/administrations",
                              json={**GIVE, "batch_id": batch.id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "safety_block"


def test_the_allergy_action_takes_only_ingredients_given(practitioner_api, start_course,
                                                         make_batch, clinic, make_ingredient):
    _, _, adm = _given(practitioner_api, start_course, make_batch)
    reaction = event(practitioner_api, adm["id"], kind="allergic_reaction").get_json()
    url = f"adverse-events/{reaction['id']}/allergies"
    before = counts()
    assert practitioner_api.post(url, json={"ingredient_ids": [make_ingredient("X").id]}).status_code == 422
    assert practitioner_api.post(url, json={"ingredient_ids": []}).status_code == 422
    assert practitioner_api.post(url, json={"severity": "deadly"}).status_code == 422
    assert counts() == before
    r = practitioner_api.post(url, json={"ingredient_ids": [clinic["lido"].id],
                                         "severity": "anaphylaxis"})
    assert r.status_code == 201 and [a["ingredient_id"] for a in r.get_json()["items"]] == [
        clinic["lido"].id]
