"""Hostile bodies sent to the course, consent, session, administration and adverse-event
routes of the API (SPEC §9, §11): wrong JSON types, out-of-range numbers, impossible and
out-of-world dates, text the database cannot hold, unknown and foreign ids. Each is a 4xx
with the error envelope, and not one row changes (audit included)."""

from __future__ import annotations

import json

import pytest

from formulary import clock
from tests.hostile.conftest import GIVE, assert_refused, table_counts

HUGE = 10**30
BAD_NUMBERS = [("string", "three"), ("list", [1]), ("object", {"a": 1}), ("null", None),
               ("true", True), ("huge", HUGE), ("negative", -1), ("zero", 0),
               ("nan", "NaN"), ("infinity", "Infinity"), ("decimal", 1.5),
               ("superscript", "²"), ("arabic digits", "٣"), ("fullwidth", "３")]
BAD_DATES = [("not a date", "yesterday"), ("Feb 30", "2026-02-30"), ("year 0", "0000-01-01"),
             ("far future", "9999-12-31"), ("list", ["2026-01-01"]), ("number", 20260101),
             ("null", None), ("datetime", "2026-01-01T10:00:00+01:00"), ("true", True),
             ("NUL", "2026-01-\x0001"), ("arabic digits", "٢٠٢٦-٠١-٠١")]
BAD_TEXT = [("NUL", "vertex\x00crown"), ("only spaces", "   "), ("zero-width", "\u200b"),
            ("no letter", "-- ."), ("list", ["vertex"]), ("number", 5), ("object", {"a": "b"}),
            ("too long", "x" * 100_001)]


def course_body(w, **fields):
    return {"patient_id": w["ana"].id, "cocktail_id": w["clinic"]["cocktail"].id,
            "planned_sessions": 6, "interval_days": 14,
            "start_date": clock.today().isoformat(), **fields}


def give_body(w, **fields):
    return {**GIVE, "batch_id": w["batch"].id, **fields}


def event_body(**fields):
    return {"onset": clock.today().isoformat(), "kind": "swelling", "severity": "mild",
            "serious": False, **fields}


def _cases():
    # (name, method, url(w), body(w))
    for label, value in BAD_NUMBERS:
        for name in ("patient_id", "cocktail_id", "planned_sessions", "interval_days"):
            yield (f"course {name} {label}", "post", lambda w: "courses",
                   lambda w, n=name, v=value: course_body(w, **{n: v}))
        for name in ("batch_id", "doses", "depth_mm"):
            if name == "depth_mm" and label in ("null", "decimal", "zero"):
                continue  # null: no depth; 1.5 and 0 are... (0 mm: see below)
            yield (f"give {name} {label}", "post",
                   lambda w: f"sessions/{w['session']['id']}/administrations",
                   lambda w, n=name, v=value: give_body(w, **{n: v}))
        yield (f"consent text id {label}", "post", lambda w: f"courses/{w['course']['id']}/consents",
               lambda w, v=value: {"consent_text_id": v, "consented_on": clock.today().isoformat()})
    for label, value in BAD_DATES:
        yield (f"course start {label}", "post", lambda w: "courses",
               lambda w, v=value: course_body(w, start_date=v))
        yield (f"session move {label}", "patch", lambda w: f"sessions/{w['session']['id']}",
               lambda w, v=value: {"planned_on": v})
        yield (f"consent date {label}", "post", lambda w: f"courses/{w['course']['id']}/consents",
               lambda w, v=value: {"consent_text_id": w["text_id"], "consented_on": v})
        yield (f"withdrawal date {label}", "post", lambda w: f"courses/{w['course']['id']}/consents",
               lambda w, v=value: {"withdrawn_on": v, "reason": "changed her mind"})
        yield (f"event onset {label}", "post",
               lambda w: f"administrations/{w['adm']['id']}/adverse-events",
               lambda w, v=value: event_body(onset=v))
    for label, value in [*[c for c in BAD_DATES if c[1] is not None], ("no offset", "2026-01-01T10:00:00"),
                         ("year 1 far east", "0001-01-01T00:00:00+14:00"),
                         ("year 1", "0001-01-01T00:30:00+01:00"),
                         ("year 9999 far west", "9999-12-31T23:59:00-12:00"),
                         ("offset 24h", "2026-01-01T10:00:00+24:00"),
                         ("future", "2999-01-01T10:00:00+01:00")]:
        yield (f"given_at {label}", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
               lambda w, v=value: give_body(w, given_at=v))
    for label, value in BAD_TEXT:
        yield (f"give sites {label}", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
               lambda w, v=value: give_body(w, sites=v))
        yield (f"stop reason {label}", "patch", lambda w: f"courses/{w['course']['id']}",
               lambda w, v=value: {"status": "stopped", "reason": v})
        yield (f"session cancel reason {label}", "patch", lambda w: f"sessions/{w['session']['id']}",
               lambda w, v=value: {"status": "cancelled", "reason": v})
        yield (f"withdraw reason {label}", "post", lambda w: f"courses/{w['course']['id']}/consents",
               lambda w, v=value: {"withdrawn_on": clock.today().isoformat(), "reason": v})
        yield (f"consent text title {label}", "post", lambda w: "consent-texts",
               lambda w, v=value: {"area": "scalp", "title": v, "body": "I agree."})
        yield (f"consent text body {label}", "post", lambda w: "consent-texts",
               lambda w, v=value: {"area": "scalp", "title": "Scalp", "body": v})
        if label not in ("only spaces", "zero-width", "no letter"):  # optional fields
            for name in ("notes", "needle", "override_reason"):
                yield (f"give {name} {label}", "post",
                       lambda w: f"sessions/{w['session']['id']}/administrations",
                       lambda w, n=name, v=value: give_body(w, **{n: v}))
            for name in ("outcome", "action"):
                yield (f"event {name} {label}", "post",
                       lambda w: f"administrations/{w['adm']['id']}/adverse-events",
                       lambda w, n=name, v=value: event_body(**{n: v}))
            yield (f"course indication {label}", "post", lambda w: "courses",
                   lambda w, v=value: course_body(w, indication=v))
            yield (f"consent note {label}", "post", lambda w: f"courses/{w['course']['id']}/consents",
                   lambda w, v=value: {"consent_text_id": w["text_id"],
                                       "consented_on": clock.today().isoformat(), "note": v})
    for label, value in [("unknown", "shoulders"), ("list", ["scalp"]), ("number", 1),
                         ("case", "SCALP"), ("NUL", "sca\x00lp")]:
        yield (f"course area {label}", "post", lambda w: "courses",
               lambda w, v=value: course_body(w, area=v))
        yield (f"consent text area {label}", "post", lambda w: "consent-texts",
               lambda w, v=value: {"area": v, "title": "T", "body": "I agree."})
        yield (f"give technique {label}", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
               lambda w, v=value: give_body(w, technique=v))
        yield (f"event kind {label}", "post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
               lambda w, v=value: event_body(kind=v))
        yield (f"event severity {label}", "post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
               lambda w, v=value: event_body(severity=v))
    for label, value in [("string", "true"), ("number", 1), ("null", None), ("list", [True])]:
        yield (f"event serious {label}", "post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
               lambda w, v=value: event_body(serious=v))
    for label, value in [("unknown user", "nobody"), ("pharmacist", "__pharmacist__"),
                         ("list", ["x"]), ("number", 3), ("NUL", "a\x00b")]:
        yield (f"course practitioner {label}", "post", lambda w: "courses",
               lambda w, v=value: course_body(
                   w, practitioner=w["clinic"]["preparer"].username if v == "__pharmacist__" else v))
    # missing and extra fields
    for name in ("patient_id", "cocktail_id", "planned_sessions", "interval_days", "start_date"):
        yield (f"course without {name}", "post", lambda w: "courses",
               lambda w, n=name: {k: v for k, v in course_body(w).items() if k != n})
    for name in ("batch_id", "doses", "sites", "technique"):
        yield (f"give without {name}", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
               lambda w, n=name: {k: v for k, v in give_body(w).items() if k != n})
    for name in ("onset", "kind", "severity", "serious"):
        yield (f"event without {name}", "post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
               lambda w, n=name: {k: v for k, v in event_body().items() if k != n})
    yield ("course extra field", "post", lambda w: "courses", lambda w: course_body(w, status="active"))
    yield ("give extra field", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, patient_id=w["bea"].id))
    yield ("event extra field", "post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
           lambda w: event_body(patient_id=1))
    yield ("session both move and mark", "patch", lambda w: f"sessions/{w['session']['id']}",
           lambda w: {"planned_on": clock.today().isoformat(), "status": "cancelled", "reason": "x"})
    yield ("session status given", "patch", lambda w: f"sessions/{w['session']['id']}",
           lambda w: {"status": "given", "reason": "because"})
    yield ("session status overdue", "patch", lambda w: f"sessions/{w['session']['id']}",
           lambda w: {"status": "overdue", "reason": "because"})
    yield ("session empty", "patch", lambda w: f"sessions/{w['session']['id']}", lambda w: {})
    yield ("course status active", "patch", lambda w: f"courses/{w['course']['id']}",
           lambda w: {"status": "active", "reason": "because"})
    yield ("course status completed", "patch", lambda w: f"courses/{w['course']['id']}",
           lambda w: {"status": "completed", "reason": "because"})
    yield ("consent record and withdraw", "post", lambda w: f"courses/{w['course']['id']}/consents",
           lambda w: {"consent_text_id": w["text_id"], "consented_on": clock.today().isoformat(),
                      "withdrawn_on": clock.today().isoformat(), "reason": "x"})
    yield ("consent empty", "post", lambda w: f"courses/{w['course']['id']}/consents", lambda w: {})
    yield ("allergy from bruising", "post", lambda w: f"adverse-events/{w['event']['id']}/allergies",
           lambda w: {})
    # ids that exist but belong elsewhere, or not at all
    yield ("course of an unknown patient", "post", lambda w: "courses",
           lambda w: course_body(w, patient_id=999_999))
    yield ("course of an unknown cocktail", "post", lambda w: "courses",
           lambda w: course_body(w, cocktail_id=999_999))
    yield ("give the other patient's batch", "post",
           lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, batch_id=w["bea_batch"].id))
    yield ("give an unknown batch", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, batch_id=999_999))
    yield ("give at a session already given", "post",
           lambda w: f"sessions/{w['course']['sessions'][0]['id']}/administrations",
           lambda w: give_body(w, doses=5))
    yield ("give more doses than left", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, doses=3))
    yield ("give 10**6 doses", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, doses=10**6))
    yield ("give depth too deep", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, depth_mm="51"))
    yield ("give depth too precise", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, depth_mm="1.1234567891"))
    yield ("give depth exponent", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, depth_mm="1e999"))
    yield ("give depth negative", "post", lambda w: f"sessions/{w['session']['id']}/administrations",
           lambda w: give_body(w, depth_mm="-1"))
    yield ("consent with an unknown text", "post", lambda w: f"courses/{w['course']['id']}/consents",
           lambda w: {"consent_text_id": 999_999, "consented_on": clock.today().isoformat()})
    yield ("consent in the future", "post", lambda w: f"courses/{w['course']['id']}/consents",
           lambda w: {"consent_text_id": w["text_id"], "consented_on": "2999-01-01"})
    yield ("event onset before the administration", "post",
           lambda w: f"administrations/{w['adm']['id']}/adverse-events",
           lambda w: event_body(onset="2000-01-01"))
    yield ("event onset in the future", "post",
           lambda w: f"administrations/{w['adm']['id']}/adverse-events",
           lambda w: event_body(onset="2999-01-01"))
    yield ("move to 9999", "patch", lambda w: f"sessions/{w['session']['id']}",
           lambda w: {"planned_on": "9999-12-31"})
    yield ("allergies with foreign ingredient ids", "post",
           lambda w: f"adverse-events/{w['event']['id']}/allergies",
           lambda w: {"ingredient_ids": [999_999]})
    yield ("allergies ids as object", "post", lambda w: f"adverse-events/{w['event']['id']}/allergies",
           lambda w: {"ingredient_ids": {"a": 1}})


CASES = list(_cases())


def _route(case) -> str:
    """The route a case attacks (its first word and, for a give, the field)."""
    return case[0].split()[0]


GROUPS = sorted({_route(c) for c in CASES})


def test_every_case_has_a_group():
    assert len(CASES) > 250 and len(GROUPS) >= 10


@pytest.mark.parametrize("group", GROUPS)
def test_a_hostile_body_is_refused_and_changes_nothing(world, app, group):
    """Every case of one route against one world (each refusal rolls back, so the world
    stays as it was for the next): a 4xx with the envelope, no row changed."""
    w = world
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every finding, then fail once
    before = table_counts()
    failures = []
    for name, method, url, body in (c for c in CASES if _route(c) == group):
        r = getattr(w["api"], method)(url(w), json=body(w))
        try:
            assert_refused(r, what=name)
            assert r.status_code != 404 or "unknown" in name, f"{name}: {r.get_json()}"
            assert table_counts() == before, f"{name}: rows changed"
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:300])
    assert not failures, "\n".join(failures)
