"""A year of treatment courses (SPEC §11) over the generated batches, as plain rows.

The batches verified for a patient are what the practitioners gave: a patient's batches
of one cocktail, in time order, are the sessions of a course (a new course after a long
gap). Each course has a consent on the area's consent text in force, recorded before its
first administration. An administration gives a verified batch after its verification
and before its beyond-use time (the generated batches never use a held lot), as many
doses as the batch has and the per-session maximum allows (checked by the same rule as
the service, ``domain.courses.check_session_maximum``; a batch that cannot be given
whole within it gives fewer doses, or is not given). Sessions left after the last one
given are planned on at the course's interval: past ones read overdue, or were marked
missed or cancelled; a few courses were stopped (some when the patient withdrew
consent); a few more are planned, starting after ``end``; a few administrations were
followed by an adverse event.

Pure, like the rest of the generator: no clock and no database; every loop is bounded by
the number of batches.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from formulary.domain import courses as rules
from formulary.domain.doses import IngredientFacts
from formulary.domain.units import Strength
from formulary.scale.catalog import AREAS

#: The share of patients' runs of batches given in a course (the rest were prepared for a
#: patient but not given: they read expired after their beyond-use time). Half keeps the
#: year's load time near what it was before courses (bench/README.md).
COURSE_SHARE = 0.5
#: A course ends when a patient's next batch of the cocktail comes later than this.
GAP_DAYS = 120
INTERVALS = (7, 14, 14, 21, 28)
SITES = {
    "scalp": ("vertex and crown, 60 points", "frontal hairline and temples, 40 points",
              "whole scalp, 120 points"),
    "face": ("cheeks and periorbital area, 50 points", "forehead and glabella, 30 points",
             "full face"),
    "neck": ("anterior neck, 40 points", "neck and décolleté"),
    "body": ("abdomen, 80 points", "outer thighs, 100 points", "flanks, 60 points"),
    "hands": ("dorsum of both hands, 30 points",),
}
TECHNIQUES = {"scalp": ("point_by_point", "papules"), "face": ("nappage", "papules"),
              "neck": ("nappage", "papules"), "body": ("point_by_point", "nappage"),
              "hands": ("papules", "point_by_point")}
EVENT_KINDS = ("bruising",) * 6 + ("swelling",) * 3 + ("erythema",) * 3 + (
    "pain", "pain", "nodule", "infection", "allergic_reaction", "other")
OUTCOMES = {"bruising": "resolved within a week", "swelling": "resolved in 48 hours",
            "erythema": "faded the same day", "pain": "resolved with paracetamol",
            "nodule": "resolved after massage in three weeks",
            "infection": "resolved under oral antibiotics",
            "allergic_reaction": "urticaria resolved under antihistamines",
            "other": "resolved without treatment"}
ACTIONS = {"bruising": "arnica, cold pack", "swelling": "cold pack",
           "erythema": "none needed", "pain": "paracetamol",
           "nodule": "massage, review in two weeks", "infection": "oral antibiotics, review",
           "allergic_reaction": "antihistamine; allergy to be assessed",
           "other": "reviewed at the next session"}
MISSED = "Patient did not come; no answer by phone."
CANCELLED = "Patient asked to postpone (travelling); session cancelled."
STOPPED = "Patient satisfied with the result; stops the course."
WITHDRAWN = "Patient withdrew consent after the session (fear of bruising)."


def _facts(specs) -> dict[int, IngredientFacts]:
    out = {}
    for n, s in enumerate(specs, start=1):
        strength = Strength(*s["strength"]) if s["strength"] else None
        out[n] = IngredientFacts(id=n, name=s["name"], unit=s["unit"], strength=strength,
                                 max_dose_per_session=s["max_dose"])
    return out


def _doses_allowed(components, facts, doses: int) -> int:
    """The most doses of a version (``doses`` at most) one session may take, 0 if none."""
    for n in range(doses, 0, -1):
        given = [rules.GivenAmount(c["ingredient_id"], c["amount"], c["unit"], n)
                 for c in components]
        try:
            rules.check_session_maximum(given, facts)
        except rules.SessionMaximumExceeded:
            continue
        return n
    return 0


def _local(at: datetime, tz) -> date:
    return at.astimezone(tz).date()


def _at(day: date, hour: int, tz, end: datetime) -> datetime:
    """``hour`` o'clock on ``day`` in the clinic (UTC), never after ``end``."""
    return min(datetime.combine(day, time(hour), tzinfo=tz).astimezone(timezone.utc), end)


def generate(seed, batches, lines, versions, components, cocktails, specs, start, end, tz,
             practitioner):
    """Rows of every course table and their audit events:
    ``{consent_texts, courses, sessions, consents, administrations, administration_lines,
    adverse_events, events}``. ``batches`` in time order (as generated)."""
    rng = random.Random(seed)
    today = _local(end, tz)
    facts = _facts(specs)
    area_of = {v["id"]: v["area"] for v in versions}
    by_version: dict[int, list[dict]] = {}
    for comp in components:
        by_version.setdefault(comp["version_id"], []).append(comp)
    lines_of: dict[int, list[dict]] = {}
    for line in lines:
        lines_of.setdefault(line["batch_id"], []).append(line)
    active = {c["id"] for c in cocktails if c["status"] == "active"}
    allowed: dict[tuple[int, int], int] = {}

    texts, events = [], []
    latest: dict[str, list[tuple[datetime, int]]] = {}
    for area in AREAS:
        for version, written in ((1, start - timedelta(days=30)),
                                 (2, start + timedelta(days=180))):
            if version == 2 and area not in ("scalp", "face"):
                continue
            texts.append({"id": len(texts) + 1, "area": area, "version": version,
                          "title": f"Mesotherapy of the {area}: information and consent",
                          "body": f"Version {version}. Mesotherapy of the {area} is a course "
                                  "of micro-injections. Expected effects, the number of "
                                  "sessions, bruising, swelling, redness, rare infection or "
                                  "allergic reaction were explained; I may stop at any time.",
                          "created_at": written, "created_by_id": practitioner})
            latest.setdefault(area, []).append((written, len(texts)))
            events.append((written, practitioner, "consent_text.create", "consent_text",
                           len(texts), f"Consent text for the {area}, version {version}"))

    # the batches each course gives: a patient's verified batches of one cocktail
    groups: dict[tuple[int, int], list[list[dict]]] = {}
    for b in batches:
        if b["status"] != "verified" or b["patient_id"] is None:
            continue
        runs = groups.setdefault((b["patient_id"], b["cocktail_id"]), [])
        if runs and (b["prepared_at"] - runs[-1][-1]["prepared_at"]).days <= GAP_DAYS:
            runs[-1].append(b)
        else:
            runs.append([b])

    courses, sessions, consents, adms, adm_lines, adverse = [], [], [], [], [], []
    for (patient_id, cocktail_id), runs in sorted(groups.items()):
        for run in runs:
            if rng.random() >= COURSE_SHARE:
                continue
            given = []  # (batch, given_at, doses)
            for b in run:
                key = (b["cocktail_version_id"], b["doses"])
                if key not in allowed:
                    allowed[key] = _doses_allowed(by_version[key[0]], facts, b["doses"])
                if not allowed[key]:
                    continue
                at = b["verified_at"] + timedelta(minutes=rng.randint(5, 120))
                at = min(at, b["beyond_use_at"] - timedelta(minutes=30), end)
                if given and _local(at, tz) <= _local(given[-1][1], tz):
                    continue  # one session a day at most
                if len(given) == rules.MAX_SESSIONS:
                    break
                given.append((b, at, allowed[key]))
            if not given:
                continue
            area = area_of[run[0]["cocktail_version_id"]]
            _course(rng, courses, sessions, consents, adms, adm_lines, adverse, events,
                    given, patient_id, cocktail_id, area, latest, lines_of, practitioner,
                    end, today, tz)
            if cocktail_id in active and len(courses) % 12 == 1 and courses[-1]["patient_id"] \
                    == patient_id:
                _planned_course(rng, courses, sessions, consents, events, patient_id,
                                cocktail_id, area_of, run, latest, practitioner, end, today, tz)
    return {"consent_texts": texts, "courses": courses, "sessions": sessions,
            "consents": consents, "administrations": adms, "administration_lines": adm_lines,
            "adverse_events": adverse, "events": events}


def _text_at(latest, area, at) -> int:
    return max((w, i) for w, i in latest[area] if w <= at)[1]


def _course(rng, courses, sessions, consents, adms, adm_lines, adverse, events, given,
            patient_id, cocktail_id, area, latest, lines_of, practitioner, end, today, tz):
    course_id = len(courses) + 1
    first_at = given[0][1]
    interval = rng.choice(INTERVALS)
    planned = min(rules.MAX_SESSIONS, len(given) + rng.choice((0, 0, 0, 1, 2, 3, 4)))
    created = first_at - timedelta(minutes=40)
    marks = []
    last_day = _local(given[-1][1], tz)
    # a stopped course is stopped after its last dose: its other sessions stay planned
    stopping = planned > len(given) and course_id % 12 == 5
    for k in range(planned):
        number = k + 1
        row = {"id": len(sessions) + 1, "course_id": course_id, "number": number,
               "status": "planned", "reason": None, "status_set_by_id": None,
               "status_set_at": None}
        if k < len(given):
            batch, at, doses = given[k]
            row["planned_on"], row["status"] = _local(at, tz), "given"
            adm_id = len(adms) + 1
            adms.append({"id": adm_id, "session_id": row["id"], "course_id": course_id,
                         "patient_id": patient_id, "batch_id": batch["id"], "doses": doses,
                         "given_at": at, "given_by_id": practitioner,
                         "sites": rng.choice(SITES[area]),
                         "technique": rng.choice(TECHNIQUES[area]),
                         "depth_mm": Decimal(rng.choice(("1", "2", "4"))),
                         "needle": "30G 4 mm", "notes": None, "safety_verdict": "safe",
                         "override_reason": None, "recorded_at": at})
            for line in lines_of[batch["id"]]:
                quantity = line["quantity"] if doses == batch["doses"] else \
                    rules.scaled_quantity(line["quantity"], doses, batch["doses"])
                adm_lines.append({
                    "id": len(adm_lines) + 1, "administration_id": adm_id,
                    "ingredient_id": line["ingredient_id"], "lot_id": line["lot_id"],
                    "quantity": quantity, "unit": line["unit"]})
            events.append((at, practitioner, "administration.create", "administration", adm_id,
                           f"Gave {doses} dose(s) of batch {batch['batch_number']} at session "
                           f"{number} of course #{course_id}"))
            if adm_id % 25 == 3:
                _event(rng, adverse, events, adm_id, patient_id, at, practitioner, end, today,
                       tz)
        else:
            row["planned_on"] = last_day + timedelta(days=interval * (k + 1 - len(given)))
            if row["planned_on"] < today and not stopping:
                roll = rng.random()
                if roll < 0.4:
                    row["status"], row["reason"] = "missed", MISSED
                elif roll < 0.6:
                    row["status"], row["reason"] = "cancelled", CANCELLED
                if row["reason"]:
                    row["status_set_by_id"] = practitioner
                    row["status_set_at"] = _at(row["planned_on"], 18, tz, end)
                    events.append((row["status_set_at"], practitioner,
                                   f"session.{row['status']}", "course_session", row["id"],
                                   f"Session {number} of course #{course_id} marked "
                                   f"{row['status']}"))
        marks.append(row["status"])
        sessions.append(row)
    consent_id = len(consents) + 1
    consent = {"id": consent_id, "course_id": course_id,
               "consent_text_id": _text_at(latest, area, first_at),
               "consented_on": _local(first_at, tz), "taken_by_id": practitioner,
               "note": None, "recorded_at": first_at - timedelta(minutes=30),
               "withdrawn_on": None, "withdrawal_reason": None, "withdrawn_by_id": None}
    stop = None
    if stopping:
        stopped_at = min(given[-1][1] + timedelta(days=rng.randint(1, 10)), end)
        if rng.random() < 0.5:
            consent.update(withdrawn_on=_local(stopped_at, tz), withdrawal_reason=WITHDRAWN,
                           withdrawn_by_id=practitioner)
            events.append((stopped_at, practitioner, "consent.withdraw", "course", course_id,
                           f"Consent to course #{course_id} withdrawn"))
            stop = (stopped_at, f"Consent withdrawn: {WITHDRAWN}")
        else:
            stop = (stopped_at, STOPPED)
        events.append((stopped_at, practitioner, "course.stop", "course", course_id,
                       f"Stopped course #{course_id}"))
    consents.append(consent)
    events.append((created, practitioner, "course.create", "course", course_id,
                   f"Course #{course_id}: {planned} session(s) every {interval} day(s)"))
    events.append((consent["recorded_at"], practitioner, "consent.record", "course", course_id,
                   f"Consent to course #{course_id}"))
    courses.append({
        "id": course_id, "patient_id": patient_id, "cocktail_id": cocktail_id, "area": area,
        "indication": "", "planned_sessions": planned, "interval_days": interval,
        "start_date": _local(first_at, tz), "practitioner_id": practitioner,
        "status": rules.course_status(marks, stopped=stop is not None),
        "stop_reason": stop[1] if stop else None, "stopped_at": stop[0] if stop else None,
        "stopped_by_id": practitioner if stop else None, "created_at": created,
        "created_by_id": practitioner})


def _event(rng, adverse, events, adm_id, patient_id, at, practitioner, end, today, tz):
    kind = rng.choice(EVENT_KINDS)
    onset = min(_local(at, tz) + timedelta(days=rng.choice((0, 0, 1, 2))), today)
    severity = "mild" if rng.random() < 0.7 else ("moderate" if rng.random() < 0.8 else "severe")
    recorded = max(at + timedelta(hours=1), _at(onset, 17, tz, end))
    recorded = min(recorded, end)
    event_id = len(adverse) + 1
    adverse.append({"id": event_id, "administration_id": adm_id, "patient_id": patient_id,
                    "onset": onset, "kind": kind, "severity": severity,
                    "serious": severity == "severe" and kind in ("infection", "allergic_reaction",
                                                                 "necrosis"),
                    "outcome": OUTCOMES[kind], "action": ACTIONS[kind],
                    "recorded_by_id": practitioner, "recorded_at": recorded})
    events.append((recorded, practitioner, "adverse_event.create", "adverse_event", event_id,
                   f"Adverse event ({kind}, {severity}) after administration #{adm_id}"))


def _planned_course(rng, courses, sessions, consents, events, patient_id, cocktail_id,
                    area_of, run, latest, practitioner, end, today, tz):
    """A new course booked for a patient, starting after ``end``; consent taken for half."""
    course_id = len(courses) + 1
    area = area_of[run[-1]["cocktail_version_id"]]
    created = end - timedelta(days=rng.randint(0, 6), hours=rng.randint(0, 5), minutes=20)
    start = today + timedelta(days=rng.randint(3, 30))
    interval = rng.choice(INTERVALS)
    planned = rng.choice((3, 4, 6, 6, 8, 10))
    for k in range(planned):
        sessions.append({"id": len(sessions) + 1, "course_id": course_id, "number": k + 1,
                         "planned_on": start + timedelta(days=interval * k), "status": "planned",
                         "reason": None, "status_set_by_id": None, "status_set_at": None})
    courses.append({
        "id": course_id, "patient_id": patient_id, "cocktail_id": cocktail_id, "area": area,
        "indication": "", "planned_sessions": planned, "interval_days": interval,
        "start_date": start, "practitioner_id": practitioner, "status": "planned",
        "stop_reason": None, "stopped_at": None, "stopped_by_id": None, "created_at": created,
        "created_by_id": practitioner})
    events.append((created, practitioner, "course.create", "course", course_id,
                   f"Course #{course_id}: {planned} session(s) every {interval} day(s)"))
    if course_id % 2:
        consents.append({"id": len(consents) + 1, "course_id": course_id,
                         "consent_text_id": _text_at(latest, area, created),
                         "consented_on": _local(created, tz), "taken_by_id": practitioner,
                         "note": None, "recorded_at": created + timedelta(minutes=10),
                         "withdrawn_on": None, "withdrawal_reason": None,
                         "withdrawn_by_id": None})
        events.append((created + timedelta(minutes=10), practitioner, "consent.record",
                       "course", course_id, f"Consent to course #{course_id}"))
