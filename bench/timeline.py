"""Benchmark of a patient's timeline (issue 14, SPEC §11).

One patient with 40 sessions given (four courses of ten, every session given from a
batch made for the patient), a few missed, adverse events and allergies, among 2,000
other patients with a course each (so the indexes, not the table sizes, decide), all
bulk-inserted into a SQLite file. Measures, in the same run, the SQL statements per
request and the median / p95 server time (wall and the thread's CPU) of:

- ``/baseline`` (the app's reference page: a template, no query beyond the login),
- the API ``/api/v1/patients/<id>/timeline`` (audited as a read: one write per request),
- the timeline page, when the app has one (``--page URL``, ``{patient}`` for the id).

Run: ``.venv/bin/python -m bench.timeline`` (``--requests N``, ``--sessions N``).
Goal: the timeline within 5x the baseline page at p95.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bench.picker import _app, _measure, logged_in_client, print_ratios
from formulary.extensions import db

OTHER_PATIENTS = 2_000
PER_COURSE = 10


def _seed(sessions: int) -> tuple[int, str]:
    from formulary.auth import services as auth
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.compounding.models import Batch, BatchLine
    from formulary.courses.models import (Administration, AdministrationLine, AdverseEvent,
                                          Consent, ConsentText, Course, CourseSession)
    from formulary.db import utcnow
    from formulary.inventory.models import Ingredient, Lot
    from formulary.patients.models import Allergy, Patient

    s = db.session
    now = utcnow().replace(microsecond=0)
    user = auth.create_user(s, "bench", username="bench", password="bench-password-1",
                            role="practitioner")
    checker = auth.create_user(s, "bench", username="checker", password="bench-password-1",
                               role="pharmacist")
    s.flush()
    uid, cid_checker = user.id, checker.id
    s.execute(insert(Ingredient), [
        {"id": i, "name": f"Ingredient {i}", "name_key": f"ingredient {i}", "category": "vitamin",
         "unit": "mL", "storage": "fridge", "multi_dose": False, "active": True, "notes": "",
         "created_at": now, "updated_at": now} for i in (1, 2, 3)])
    s.execute(insert(Lot), [
        {"id": i, "ingredient_id": i, "lot_number": f"LOT-{i}",
         "expiry_date": (now + timedelta(days=400)).date(), "supplier": "bench",
         "unit_cost": Decimal("1"), "quantity_received": Decimal("100000"),
         "quantity_on_hand": Decimal("90000"), "status": "available", "status_reason": "",
         "opened_at": None, "received_at": now - timedelta(days=800), "received_by_id": uid}
        for i in (1, 2, 3)])
    s.execute(insert(Cocktail), [{"id": 1, "name": "Scalp bench", "name_key": "scalp bench",
                                  "status": "active", "created_at": now}])
    s.execute(insert(CocktailVersion), [
        {"id": 1, "cocktail_id": 1, "number": 1, "status": "active", "area": "scalp",
         "indication": "hair loss", "storage": "fridge", "notes": "", "created_at": now,
         "approved_at": now}])
    s.execute(Cocktail.__table__.update().values(active_version_id=1))
    s.execute(insert(Component), [
        {"version_id": 1, "ingredient_id": i, "position": i, "amount": Decimal("1"),
         "unit": "mL", "stock_quantity": Decimal("1"), "stock_unit": "mL"} for i in (1, 2, 3)])
    patients = OTHER_PATIENTS + 1
    s.execute(insert(Patient), [
        {"id": p, "mrn": f"BENCH-{p}", "first_name": "Bench", "last_name": f"Patient {p}",
         "allergy_status": "none_known", "notes": "", "created_at": now, "updated_at": now}
        for p in range(1, patients + 1)])
    s.execute(insert(ConsentText), [{"id": 1, "area": "scalp", "version": 1, "title": "Scalp",
                                     "body": "I agree.", "created_at": now,
                                     "created_by_id": uid}])
    # the patient of the benchmark: courses of PER_COURSE sessions, every one given;
    # every other patient: one course, its first session given
    courses, rows, batches, lines, adms, adm_lines, consents = [], [], [], [], [], [], []
    plan = [(1, PER_COURSE)] * (sessions // PER_COURSE) + (
        [(1, sessions % PER_COURSE)] if sessions % PER_COURSE else [])
    plan += [(p, 1) for p in range(2, patients + 1)]
    for patient, given in plan:
        cid = len(courses) + 1
        start = now - timedelta(days=7 * PER_COURSE * (len(courses) % 8 + 1))
        courses.append({"id": cid, "patient_id": patient, "cocktail_id": 1, "area": "scalp",
                        "indication": "hair loss", "planned_sessions": max(given, 3),
                        "interval_days": 7, "start_date": start.date(), "practitioner_id": uid,
                        "status": "completed" if given >= 3 else "active", "stop_reason": None,
                        "stopped_at": None, "stopped_by_id": None, "created_at": start,
                        "created_by_id": uid})
        consents.append({"id": cid, "course_id": cid, "consent_text_id": 1,
                         "consented_on": start.date(), "taken_by_id": uid, "note": None,
                         "recorded_at": start, "withdrawn_on": None, "withdrawal_reason": None,
                         "withdrawn_by_id": None})
        for k in range(max(given, 3)):
            at = start + timedelta(days=7 * k)
            sid = len(rows) + 1
            rows.append({"id": sid, "course_id": cid, "number": k + 1,
                         "planned_on": at.date(),
                         "status": "given" if k < given else "planned", "reason": None,
                         "status_set_by_id": None, "status_set_at": None})
            if k >= given:
                continue
            bid = len(batches) + 1
            batches.append({
                "id": bid, "batch_number": f"B{bid:08d}", "cocktail_id": 1,
                "cocktail_version_id": 1, "doses": 1, "patient_id": patient,
                "prepared_by_id": uid, "prepared_at": at - timedelta(hours=2),
                "beyond_use_at": at + timedelta(hours=22), "beyond_use_reason": "fridge",
                "status": "verified", "safety_verdict": "safe", "override_reason": None,
                "verified_by_id": cid_checker, "verified_at": at - timedelta(hours=1),
                "discarded_by_id": None, "discarded_at": None, "discard_reason": None,
                "idempotency_key": None})
            aid = len(adms) + 1
            adms.append({"id": aid, "session_id": sid, "course_id": cid, "patient_id": patient,
                         "batch_id": bid, "doses": 1, "given_at": at, "given_by_id": uid,
                         "sites": "vertex and crown, 60 points", "technique": "papules",
                         "depth_mm": Decimal("2"), "needle": "30G", "notes": None,
                         "safety_verdict": "safe", "override_reason": None, "recorded_at": at})
            for i in (1, 2, 3):
                lines.append({"id": len(lines) + 1, "batch_id": bid, "ingredient_id": i,
                              "lot_id": i, "quantity": Decimal("1"), "unit": "mL"})
                adm_lines.append({"id": len(adm_lines) + 1, "administration_id": aid,
                                  "ingredient_id": i, "lot_id": i, "quantity": Decimal("1"),
                                  "unit": "mL"})
    for model, data in ((Course, courses), (CourseSession, rows), (Consent, consents),
                        (Batch, batches), (BatchLine, lines), (Administration, adms),
                        (AdministrationLine, adm_lines)):
        for i in range(0, len(data), 5_000):
            s.execute(insert(model), data[i:i + 5_000])
    ours = [a for a in adms if a["patient_id"] == 1]
    s.execute(insert(AdverseEvent), [
        {"administration_id": a["id"], "patient_id": 1, "onset": a["given_at"].date(),
         "kind": "bruising", "severity": "mild", "serious": False, "outcome": "resolved",
         "action": "cold pack", "recorded_by_id": uid, "recorded_at": a["given_at"]}
        for a in ours[::8]])
    s.execute(insert(Allergy), [
        {"patient_id": 1, "ingredient_id": None, "allergen_group_id": None,
         "substance": f"substance {n}", "severity": "mild", "reaction": "rash",
         "status": "refuted", "recorded_at": now, "updated_at": now} for n in range(5)])
    token, _ = auth.create_token(s, user, days=1)
    s.commit()
    return uid, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--page", default=None,
                        help="the timeline page's URL, {patient} for the id (when it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp) / "bench.db")
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            user_id, token = _seed(args.sessions)
            print(f"seeded a patient with {args.sessions} sessions given, among "
                  f"{OTHER_PATIENTS:,} others, in {time.perf_counter() - started:.1f} s")
            client = logged_in_client(app, user_id)
            bearer = {"Authorization": f"Bearer {token}"}
            items = client.get("/api/v1/patients/1/timeline", headers=bearer).get_json()
            print(f"timeline of the patient: {items['total']} items")
            rows = [_measure(client, "/baseline", args.requests),
                    _measure(client, "/api/v1/patients/1/timeline", args.requests, bearer)]
            if args.page:
                rows.append(_measure(client, args.page.format(patient=1), args.requests))
            db.engine.dispose()
    print_ratios(rows, width=40, goal="the timeline within 5x at p95")

if __name__ == "__main__":
    main()
