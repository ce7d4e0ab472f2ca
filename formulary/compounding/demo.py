"""Demo batches: a few dozen over the last three weeks, made through the service.

Uses ``ctx["users"]`` (pharmacist, pharmacist2), ``ctx["cocktails"]`` (name -> Cocktail)
and ``ctx["patients"]`` (MRN -> Patient). Most older batches are verified by the second
pharmacist; one is discarded; one is made for a patient the safety screen blocks, with
an override reason. Sets ``ctx["batches"]``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app

from formulary import clock
from formulary.compounding import services
from formulary.domain.errors import DomainError, SafetyBlock

DAYS = 21
HOURS = (9, 11, 14, 16)


def load(session, ctx: dict) -> None:
    users = ctx.get("users") or {}
    preparer = users.get("pharmacist")
    checker = users.get("pharmacist2")
    cocktails = [c for c in (ctx.get("cocktails") or {}).values() if c.status == "active"]
    patients = list((ctx.get("patients") or {}).values())
    if preparer is None or not cocktails:
        ctx["batches"] = []
        return
    tz = clock.clinic_tz()
    policy = services.policy_from_hours(current_app.config["BEYOND_USE_HOURS"])
    today = clock.today()
    made, overridden, discarded = [], False, False
    n = 0
    for back in range(DAYS, -1, -1):
        day = today - timedelta(days=back)
        for slot in range(2 if back % 3 else 1):
            n += 1
            at = datetime.combine(day, time(HOURS[(n + slot) % len(HOURS)], 10 * (n % 5)), tzinfo=tz)
            if at > clock.now():
                continue
            cocktail = cocktails[n % len(cocktails)]
            patient = patients[n % len(patients)] if patients and n % 3 else None
            kw = dict(cocktail=cocktail, doses=1 + n % 2, patient=patient, now=at, tz=tz, policy=policy)
            try:
                batch = services.prepare_batch(session, preparer, **kw)
            except SafetyBlock:
                if overridden:
                    continue
                try:
                    batch = services.prepare_batch(
                        session, preparer, override_reason="Discussed with the prescribing "
                        "physician; reaction history reviewed, patient consented.", **kw)
                except DomainError:
                    continue
                overridden = True
            except DomainError:
                continue
            made.append(batch)
            if checker is not None and back > 1 and n % 5:
                services.verify_batch(session, checker, batch, now=at + timedelta(minutes=25))
            elif not discarded and back > 3:
                services.discard_batch(session, preparer, batch, "Syringe contaminated during "
                                       "transfer; prepared again.", now=at + timedelta(minutes=15))
                discarded = True
    ctx["batches"] = made
