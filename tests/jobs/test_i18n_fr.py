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


# --- the job's own texts: written by the worker in the asker's language ------------------

def _ask_export(api, lang: str) -> int:
    r = api.client.post("/api/v1/jobs/exports", json={"report": "audit"},
                        headers={**api.headers, "Accept-Language": lang})
    assert r.status_code == 202, r.get_json()
    return r.get_json()["id"]


def test_a_jobs_summary_is_written_in_the_askers_language_and_shown_as_stored(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(1200)
    manager, _user = user_api(app, "manager", "mona")
    admin, _ = user_api(app, "admin", "ada")
    asked = {lang: _ask_export(manager, lang) for lang in ("fr", "en")}
    assert run_pending(app) == 2
    fr = manager.get(f"/api/v1/jobs/{asked['fr']}").get_json()
    en = manager.get(f"/api/v1/jobs/{asked['en']}").get_json()
    rows = fr["rows_done"]
    assert rows >= 1200 and en["rows_done"] == rows
    # a thin no-break space between thousands, the French colon
    thousands = f"{rows:,}".replace(",", "\u202f")
    assert fr["summary"] == f"Journal d'audit : {thousands} lignes", fr["summary"]
    assert en["summary"] == f"Audit log: {rows} rows"          # English as it always was
    # an admin reads another user's job as it was written, whatever their own language
    seen = admin.client.get(f"/api/v1/jobs/{asked['fr']}",
                            headers={**admin.headers, "Accept-Language": "en"}).get_json()
    assert seen["summary"] == fr["summary"]


def test_a_failed_job_says_why_in_the_askers_language(jobs_app):
    from tests.jobs.test_delivery_job import sheet

    app, _url, _config = jobs_app
    app.config["DELIVERY_INLINE_MAX_ROWS"] = 0
    pharmacist, _ = user_api(app, "pharmacist", "phil")
    later = datetime.now(PARIS).date() + timedelta(days=300)
    bad = sheet([["Unobtainium", "U-1", later, 1, 2], ["", "U-2", later, 1, 2]])
    ids = {}
    for lang in ("fr", "en"):
        r = pharmacist.client.post(
            "/api/v1/imports/delivery", data={"file": (io.BytesIO(bad), "d.xlsx")},
            content_type="multipart/form-data",
            headers={**pharmacist.headers, "Accept-Language": lang})
        assert r.status_code == 202, r.get_json()
        ids[lang] = r.get_json()["id"]
    assert run_pending(app) == 2
    db.session.rollback()
    fr, en = (db.session.get(Job, ids[lang]) for lang in ("fr", "en"))
    assert fr.status == en.status == "failed"
    assert fr.error.startswith("Rien n'a été réceptionné. Ligne 2 : Aucun ingrédient ne s'appelle "
                               "« Unobtainium »."), fr.error
    assert "Ligne 3 : Indiquez le nom de l'ingrédient ou son GTIN." in fr.error
    assert en.error.startswith("Nothing was received. Row 2: No ingredient is named "
                               "'Unobtainium'."), en.error
    assert "Row 3: Give the ingredient's name or its GTIN." in en.error


def test_a_dead_workers_reason_is_in_the_askers_language(jobs_app):
    from sqlalchemy import update

    from formulary.db import utcnow

    app, _url, _config = jobs_app
    add_audit_rows(20)
    manager, _ = user_api(app, "manager", "mona")
    job_id = _ask_export(manager, "fr")
    app.extensions["huey"].flush()  # as if a worker had taken the message and died
    old = utcnow() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 5)
    db.session.execute(update(Job).where(Job.id == job_id).values(
        status="running", attempts=app.config["JOB_MAX_ATTEMPTS"], heartbeat_at=old))
    db.session.commit()
    assert schedule.reap(app) == [job_id]
    error = db.session.get(Job, job_id).error
    assert re.fullmatch(r"Le processus qui l'exécutait s'est arrêté \(aucun signe de vie depuis "
                        r"\d+ s\), \d+ fois : pas de nouvel essai\.", error), error


@pytest.mark.parametrize("lang, saving, backup, digest", [
    ("en", "Saving the file: 1234.5 MB written",
     "Backup formulary_x.dump, audit head 7:ab; 2 older backup(s) removed",
     "Digest sent to 3 user(s); 1 without an email address"),
    ("fr", "Enregistrement du fichier : 1\u202f234,5 Mo écrits",
     "Sauvegarde formulary_x.dump, tête du journal d'audit 7:ab ; "
     "2 sauvegarde(s) plus ancienne(s) supprimée(s)",
     "Récapitulatif envoyé à 3 utilisateur(s) ; 1 sans adresse e-mail"),
])
def test_the_phase_backup_and_digest_texts_in_each_language(jobs_app, lang, saving, backup,
                                                            digest):
    from flask_babel import force_locale

    from formulary.jobs.schedule import _backup_summary, _digest_summary
    from formulary.reports.export_jobs import _saving_text

    with force_locale(lang):
        assert _saving_text(int(1234.5 * 2**20)) == saving
        assert _backup_summary("formulary_x.dump", "7:ab", 2) == backup
        assert _digest_summary(3, 1) == digest
