"""The daily digest through a real SMTP server (aiosmtpd, started by the test), the
schedule that queues it once a day, and nothing sent without SMTP settings."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import select

from formulary.extensions import db
from formulary.jobs import schedule
from formulary.jobs.models import Job, ScheduledRun
from formulary.jobs.queue import run_pending


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)

    def prepare_message(self, session, envelope):
        return message_from_bytes(envelope.content)


@pytest.fixture
def smtp():
    import socket

    with socket.socket() as probe:  # a free port (aiosmtpd's Controller needs a number)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def storage():  # the digest does not depend on the queue's storage: the embedded one
    return "sqlite"


def _users():
    from formulary.auth import services

    made = {}
    for name, role, email, opt in (("mona", "manager", "mona@clinic.test", True),
                                   ("phil", "pharmacist", "phil@clinic.test", True),
                                   ("pia", "practitioner", "pia@clinic.test", True),
                                   ("nora", "manager", "nora@clinic.test", False)):
        user = services.create_user(db.session, "test", username=name, password="x" * 12, role=role)
        user.email, user.digest_opt_in = email, opt
        made[name] = user
    db.session.commit()
    return made


def test_the_digest_goes_to_those_who_opted_in_with_their_roles_sections(jobs_app, smtp):
    app, _url, _config = jobs_app
    inbox, port = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, DIGEST_AT="07:00")
    from formulary.inventory.models import Ingredient, Lot

    ing = Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL",
                     reorder_level=50)
    db.session.add_all([ing, Lot(ingredient=ing, lot_number="B-1", quantity_received=5,
                                 quantity_on_hand=5, status="available",
                                 expiry_date=datetime.now(ZoneInfo("Europe/Paris")).date())])
    db.session.commit()
    _users()

    paris = ZoneInfo("Europe/Paris")
    now = datetime.now(paris).replace(hour=7, minute=1)
    job_id = schedule.schedule_daily("digest", "07:00", now)
    assert job_id is not None
    assert schedule.schedule_daily("digest", "07:00", now) is None  # once per clinic day
    assert run_pending(app) == 1
    db.session.rollback()
    assert db.session.get(Job, job_id).status == "done", db.session.get(Job, job_id).error

    by_to = {m["To"]: m for m in inbox.messages}
    assert set(by_to) == {"mona@clinic.test", "phil@clinic.test", "pia@clinic.test"}
    manager = by_to["mona@clinic.test"].get_payload()
    assert "daily digest" in by_to["mona@clinic.test"]["Subject"]
    assert "Low stock (1)" in manager and "Biotin" in manager
    assert "Lots expiring within 30 days (1)" in manager and "lot B-1" in manager
    assert "awaiting verification" not in manager  # a manager verifies nothing
    assert "Audit log head:" in manager
    pharmacist = by_to["phil@clinic.test"].get_payload()
    assert "Batches awaiting verification (0)" in pharmacist
    practitioner = by_to["pia@clinic.test"].get_payload()
    assert "Low stock" not in practitioner and "Treatment sessions" in practitioner
    assert "Open recalls (0)" in manager and "Open recalls (0)" in practitioner


def test_the_digest_names_open_recalls_by_lot_and_never_a_patient(jobs_app):
    """A recall in the digest: the lot and how many patients are still to contact; the
    patient's name and MRN stay in the clinic (an email leaves its systems)."""
    from formulary.auth import services as auth_services
    from formulary.jobs.digest import compose
    from formulary.patients.models import Patient
    from formulary.recalls.models import Recall, RecallPatient
    from formulary.inventory.models import Ingredient, Lot

    ing = Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL")
    lot = Lot(ingredient=ing, lot_number="R-77", quantity_received=5, quantity_on_hand=5,
              status="recalled", expiry_date=datetime(2030, 1, 1).date())
    patients = [Patient(mrn=f"MRN-{i}", first_name="Zélie", last_name=f"Secretname{i}",
                        date_of_birth=datetime(1980, 1, 1).date()) for i in range(3)]
    recall = Recall(lot=lot, reason="supplier notice", status="open")
    db.session.add_all([ing, lot, recall, *patients])
    db.session.flush()
    db.session.add_all([RecallPatient(recall=recall, patient_id=p.id, status=status)
                        for p, status in zip(patients, ("to_contact", "to_contact", "contacted"))])
    user = auth_services.create_user(db.session, "test", username="mona", password="x" * 12,
                                     role="manager")
    user.email = "mona@clinic.test"
    db.session.commit()
    body = compose(db.session, user, datetime.now(ZoneInfo("Europe/Paris"))).get_content()
    assert "Open recalls (1)" in body
    assert "Biotin, lot R-77: 2 of 3 patients still to contact" in body
    assert "Secretname" not in body and "MRN-" not in body


def test_without_smtp_nothing_is_sent_and_the_profile_says_so(jobs_app):
    app, _url, _config = jobs_app
    app.config.update(SMTP_HOST=None)
    _users()
    schedule.tick(app, datetime(2026, 12, 7, 7, 5, tzinfo=ZoneInfo("Europe/Paris")))
    assert db.session.execute(select(ScheduledRun).where(ScheduledRun.name == "digest")).first() is None
    client = app.test_client()
    client.post("/login", data={"username": "mona", "password": "x" * 12,
                                "csrf_token": client.csrf_token()})
    html = client.get("/profile").get_data(as_text=True)
    assert 'data-testid="no-smtp"' in html and "no digest is sent" in html
    r = client.post("/profile", data={"email": "not an address", "digest_opt_in": "y",
                                      "csrf_token": client.csrf_token("/profile")})
    assert r.status_code == 422
    r = client.post("/profile", data={"email": "m@clinic.test", "digest_opt_in": "y",
                                      "csrf_token": client.csrf_token("/profile")})
    assert r.status_code == 302
    db.session.rollback()
    from formulary.auth.models import User

    mona = db.session.execute(select(User).where(User.username == "mona")).scalar_one()
    assert mona.email == "m@clinic.test" and mona.digest_opt_in


def test_the_nightly_backup_carries_the_audit_head_and_old_ones_go(jobs_app, backend):
    if backend != "sqlite":
        pytest.skip("the backup job is tested on SQLite here (pg_dump: tests/faults/test_backup.py)")
    app, _url, config = jobs_app
    import json
    import os
    import time
    from pathlib import Path

    _users()  # audit entries
    directory = Path(config["BACKUP_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / "formulary_2000-01-01_020000.sqlite"
    old.write_bytes(b"old")
    (directory / (old.name + ".head.json")).write_text("{}")
    os.utime(old, (time.time() - 20 * 86400,) * 2)
    job_id = schedule.schedule_daily("backup", "02:00",
                                  datetime(2026, 12, 7, 2, 0, tzinfo=ZoneInfo("Europe/Paris")))
    assert run_pending(app) == 1
    db.session.rollback()
    done = db.session.get(Job, job_id)
    assert done.status == "done", done.error
    path = Path(done.file_path)
    head = json.loads(path.with_name(path.name + ".head.json").read_text())
    assert head["seq"] >= 1 and len(head["hash"]) == 64
    assert not old.exists() and not list(directory.glob(".*part"))


def test_a_backup_can_be_queued_from_the_command_line(jobs_app, backend):
    if backend != "sqlite":
        pytest.skip("the backup job is tested on SQLite here (pg_dump: tests/faults/test_backup.py)")
    app, _url, config = jobs_app
    result = app.test_cli_runner().invoke(args=["jobs", "backup"])
    assert result.exit_code == 0 and "queued as job" in result.output
    db.session.remove()
    assert run_pending(app) == 1
    job = db.session.execute(select(Job).where(Job.kind == "backup")).scalar_one()
    assert job.status == "done" and job.file_path.endswith(".sqlite")
