"""The demo clinic's courses are recorded through the services: every stage of a course
and of a session, administrations that obey §11, a few adverse events; at any hour."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import select

from formulary import clock
from formulary.cli import load_demo
from formulary.compounding.state import state_of
from formulary.courses.models import Administration, AdverseEvent, Consent, Course
from formulary.courses.services import session_status
from formulary.inventory.ledger import check_books

INSTANTS = {"now": None,
            "just after midnight on 1 January in Paris": datetime(2026, 12, 31, 23, 30,
                                                                  tzinfo=timezone.utc)}


@pytest.mark.parametrize("label", list(INSTANTS))
def test_demo_courses_at_every_stage(session, label):
    at = INSTANTS[label]
    if at is None:
        ctx = load_demo(session)
    else:
        with time_machine.travel(at, tick=False):
            ctx = load_demo(session)
    session.commit()
    courses = session.execute(select(Course)).scalars().all()
    assert len(ctx["courses"]) == len(courses)
    assert {c.status for c in courses} == {"planned", "active", "completed", "stopped"}
    today = clock.today() if at is None else at.astimezone(clock.clinic_tz()).date()
    shown = {session_status(s, today) for c in courses for s in c.sessions}
    assert {"given", "planned", "missed", "cancelled"} <= shown
    adms = session.execute(select(Administration)).scalars().all()
    assert len(adms) >= 8
    for adm in adms:
        batch = adm.batch
        assert batch.status == "verified" and batch.patient_id in (None, adm.patient_id)
        assert batch.verified_at < adm.given_at < batch.beyond_use_at
        assert all(line.lot.status == "available" for line in batch.lines)  # never on hold
        assert state_of(batch, adm.given_at).state in ("given", "partly_given")
        assert adm.session.status == "given"
        consents = session.execute(select(Consent).where(
            Consent.course_id == adm.course_id)).scalars().all()
        assert consents and consents[0].consented_on <= adm.given_at.astimezone(
            clock.clinic_tz()).date()
    for b in {a.batch for a in adms}:
        assert b.doses_given <= b.doses
    events = session.execute(select(AdverseEvent)).scalars().all()
    assert {e.kind for e in events} == {"bruising", "swelling", "allergic_reaction"}
    assert any(c.stop_reason and c.stop_reason.startswith("Consent withdrawn") for c in courses)
    assert check_books(session) == []
