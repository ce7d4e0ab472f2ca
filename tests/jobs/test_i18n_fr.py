"""Work done away from a request, in the language of whoever it is for (SPEC §13): an
export asked as a job is written in the asker's language by the worker, and each daily
digest in its recipient's (their profile's choice, else ``DEFAULT_LOCALE``), through a
real SMTP server."""

from __future__ import annotations

import io
import re
from email.header import decode_header, make_header
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from formulary.extensions import db
from formulary.jobs import schedule
from formulary.jobs.models import Job
from formulary.jobs.queue import run_pending
from tests.i18n import catalogs
from tests.jobs.helpers import add_audit_rows, user_api
from tests.jobs.test_digest import smtp  # noqa: F401  a real SMTP server (aiosmtpd)

PARIS = ZoneInfo("Europe/Paris")


def _subject(message) -> str:
    return str(make_header(decode_header(re.sub(r"\r?\n", "", message["Subject"]))))


@pytest.fixture(autouse=True)
def french_catalog():
    catalogs.compile_fr()


def test_an_export_job_is_written_in_the_language_it_was_asked_in(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(30)
    manager, user = user_api(app, "manager", "mona")
    user.full_name = "Mona Martin"
    db.session.commit()
    asked = {}
    for lang in ("fr", "en"):
        r = manager.client.post("/api/v1/jobs/exports", json={"report": "audit"},
                                headers={**manager.headers, "Accept-Language": lang})
        assert r.status_code == 202, r.get_json()
        asked[lang] = r.get_json()["id"]
    assert run_pending(app) == 2      # the worker: no request, no Accept-Language
    db.session.rollback()
    assert db.session.get(Job, asked["fr"]).params["lang"] == "fr"
    books = {}
    for lang, job_id in asked.items():
        body = manager.get(f"/api/v1/jobs/{job_id}").get_json()
        assert body["status"] == "done", body
        books[lang] = openpyxl.load_workbook(io.BytesIO(manager.get(body["file"]).data))
    fr, en = books["fr"], books["en"]
    assert fr.sheetnames == ["Journal d'audit"] and en.sheetnames == ["Audit log"]
    ws = fr["Journal d'audit"]
    assert ws["A1"].value == "N°"                      # headers: French too
    assert ws.oddFooter.right.text == "Page &P sur &N"
    assert "Journal d'audit" in ws.oddHeader.left.text
    assert ws.oddHeader.center.text == "toutes les entrées"
    assert re.fullmatch(r"Édité le \d{2}/\d{2}/\d{4} \d{2}:\d{2} par Mona Martin",
                        ws.oddHeader.right.text), ws.oddHeader.right.text
    assert ws.oddFooter.left.text.startswith("Tête du journal d'audit : ")
    ws = en["Audit log"]
    assert ws.oddFooter.right.text == "Page &P of &N" and ws["A1"].value == "Seq"
    assert ws.oddHeader.center.text == "every entry"


def _people():
    from formulary.auth import services

    made = {}
    for name, role, locale in (("fanny", "pharmacist", "fr"), ("edith", "pharmacist", "en"),
                               ("nolan", "manager", None)):
        user = services.create_user(db.session, "test", username=name, password="x" * 12,
                                    role=role)
        user.email, user.digest_opt_in, user.locale = f"{name}@clinic.test", True, locale
        made[name] = user
    db.session.commit()
    return made


def _stock(today):
    from formulary.inventory.models import Ingredient, Lot

    ing = Ingredient(name="Biotine", name_key="biotine", category="vitamin", unit="mL",
                     reorder_level=1250)
    db.session.add_all([ing, Lot(ingredient=ing, lot_number="B-1", quantity_received=4.5,
                                 quantity_on_hand=4.5, status="available",
                                 expiry_date=today + timedelta(days=10))])
    db.session.commit()


@pytest.mark.parametrize("default", ["en", "fr"])
def test_each_digest_is_in_its_recipients_language(jobs_app, smtp, default):  # noqa: F811
    app, _url, _config = jobs_app
    inbox, port = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, DIGEST_AT="07:00",
                      DEFAULT_LOCALE=default)
    now = datetime.now(PARIS).replace(hour=7, minute=1, second=0, microsecond=0)
    today = now.date()
    _stock(today)
    _people()
    assert schedule.schedule_daily("digest", "07:00", now) is not None
    assert run_pending(app) == 1
    by_to = {m["To"]: m for m in inbox.messages}
    assert set(by_to) == {"fanny@clinic.test", "edith@clinic.test", "nolan@clinic.test"}

    fanny = by_to["fanny@clinic.test"]      # French on her profile
    body = fanny.get_payload(decode=True).decode("utf-8")
    assert _subject(fanny).endswith(f" : récapitulatif quotidien du {today:%d/%m/%Y}")
    assert fanny["Content-Language"] == "fr"
    assert body.startswith("Bonjour fanny,")
    assert "Stock bas (1)" in body
    # numbers with a decimal comma and a space between thousands, dates day first
    assert "Biotine : 4,5 mL utilisables, seuil de commande 1\u202f250" in body
    expiry = (today + timedelta(days=10)).strftime("%d/%m/%Y")
    assert f"Lots périmant dans les 30 jours (1)" in body
    assert f"Biotine, lot B-1 : périme le {expiry}" in body
    assert "Préparations en attente de vérification (0)" in body and "  - aucun" in body
    assert "Rappels ouverts (0)" in body and "Séances de traitement" in body
    assert "Tête du journal d'audit : " in body
    assert "vous l'avez demandé sur votre page de profil" in body
    assert "Low stock" not in body and "Good morning" not in body

    edith = by_to["edith@clinic.test"].get_payload(decode=True).decode("utf-8")  # English chosen
    assert "Good morning edith," in edith and "Biotine: 4.5 mL usable, reorder level 1250" in edith
    assert f"expires {(today + timedelta(days=10)).isoformat()}" in edith

    # no choice on the profile: the clinic's default language
    nolan = by_to["nolan@clinic.test"]
    text = nolan.get_payload(decode=True).decode("utf-8")
    if default == "fr":
        assert text.startswith("Bonjour nolan,") and nolan["Content-Language"] == "fr"
    else:
        assert text.startswith("Good morning nolan,") and nolan["Content-Language"] == "en"
