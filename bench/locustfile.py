"""A clinic day for Locust: practitioners, pharmacists and a manager (see bench/load.py).

Run through ``python -m bench.load``, which prepares the database, starts gunicorn and
hands this file its ids in the JSON file named by ``LOAD_CONFIG``. Every request is
named ``<group>: <what>`` (group = login, page, api, export) so the runner can report per
kind; every sample is appended to ``LOAD_SAMPLES`` (one ``group<TAB>name<TAB>ms<TAB>ok<TAB>unix time``
line each) for the percentiles per group.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from datetime import date, timedelta

from locust import HttpUser, between, events, task

CONFIG = json.loads(open(os.environ["LOAD_CONFIG"], encoding="utf-8").read())
PASSWORD = CONFIG["password"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key"[^>]*value="([^"]*)"')
_samples = open(os.environ["LOAD_SAMPLES"], "a", encoding="utf-8", buffering=1)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kw):
    group = name.split(":", 1)[0]
    _samples.write(f"{group}\t{name}\t{response_time:.1f}\t{0 if exception else 1}\t"
                   f"{time.time():.3f}\n")


def _csrf(html: str) -> str:
    m = CSRF_RE.search(html)
    return m.group(1) if m else ""


class Clinician(HttpUser):
    """A logged-in person: a session cookie from the login form (CSRF on), and an API
    token of the same role for the API calls."""

    abstract = True
    role = ""

    def on_start(self):
        self.token = CONFIG["tokens"][self.role]
        self.api_headers = {"Authorization": f"Bearer {self.token}"}
        username = random.choice(CONFIG["users"][self.role])
        for attempt in range(10):
            page = self.client.get("/login", name="login: form")
            with self.client.post("/login", name="login: submit", catch_response=True,
                                  data={"username": username, "password": PASSWORD,
                                        "csrf_token": _csrf(page.text)}) as r:
                if r.status_code == 429:  # a login rate limit: wait as a person would
                    r.success()
                    time.sleep(float(r.headers.get("Retry-After", "5")))
                    continue
                if r.status_code != 200 or "/login" in r.url:
                    r.failure(f"login refused ({r.status_code})")
                return

    def page(self, url: str, name: str, **kw):
        with self.client.get(url, name=f"page: {name}", catch_response=True, **kw) as r:
            if r.status_code != 200 or "/login" in r.url:
                r.failure(f"{r.status_code} at {r.url}")
            return r

    def api_get(self, url: str, name: str, group: str = "api"):
        with self.client.get(url, name=f"{group}: {name}", headers=self.api_headers,
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} {r.text[:200]}")
            return r

    def api_post(self, url: str, name: str, body: dict):
        with self.client.post(url, name=f"api: {name}", headers=self.api_headers, json=body,
                              catch_response=True) as r:
            if r.status_code not in (200, 201):
                r.failure(f"{r.status_code} {r.text[:200]}")
            return r


class Practitioner(Clinician):
    """Sees patients all day: finds one, opens the record, the formulation picker, and
    asks the safety API about a cocktail. Reads only."""

    role = "practitioner"
    weight = 6
    wait_time = between(2, 6)

    @task(3)
    def consult(self):
        patient = random.choice(CONFIG["patients"])
        self.page(f"/patients?q={patient['last_name'][:4]}", "patient search")
        self.page(f"/patients/{patient['id']}", "patient record")
        self.page(f"/patients/{patient['id']}/formulations", "formulation picker")

    @task(2)
    def picker_by_area(self):
        patient = random.choice(CONFIG["patients"])
        area = random.choice(CONFIG["areas"])
        self.page(f"/patients/{patient['id']}/formulations?area={area}", "formulation picker")

    @task(2)
    def safety(self):
        patient = random.choice(CONFIG["patients"])
        cocktail = random.choice(CONFIG["cocktails"])
        self.api_get(f"/api/v1/patients/{patient['id']}/safety?cocktail_id={cocktail}",
                     "safety screen")

    @task(1)
    def patient_list(self):
        self.page(f"/patients?page={random.randint(1, CONFIG['patient_pages'])}", "patient list")


class CourseWork(Clinician):
    """A practitioner running a treatment course to its first administration: starts a
    course for a patient without known allergies, records the consent, has a batch
    prepared for the patient (a pharmacist's token) and verified (a second pharmacist's),
    and gives one dose at the first session; then reads the patient's courses and the
    timeline."""

    role = "practitioner"
    weight = 2
    wait_time = between(2, 6)

    def on_start(self):
        super().on_start()
        self.pharmacist = {"Authorization": f"Bearer {CONFIG['tokens']['pharmacist']}"}
        self.verifier = {"Authorization": f"Bearer {CONFIG['verifier_token']}"}

    def _post(self, url: str, name: str, body: dict, headers: dict):
        with self.client.post(url, name=f"api: {name}", headers=headers, json=body,
                              catch_response=True) as r:
            if r.status_code not in (200, 201):
                r.failure(f"{r.status_code} {r.text[:200]}")
                return None
            return r.json()

    @task(1)
    def course_to_administration(self):
        patient = random.choice(CONFIG["course_patients"])
        cocktail = random.choice(CONFIG["cocktails"])
        today = date.today().isoformat()
        course = self._post("/api/v1/courses", "start course", {
            "patient_id": patient, "cocktail_id": cocktail, "planned_sessions": 3,
            "interval_days": 14, "start_date": today}, self.api_headers)
        if course is None:
            return
        text = CONFIG["consent_texts"].get(course["area"])
        if text is None or self._post(f"/api/v1/courses/{course['id']}/consents",
                                      "record consent", {"consent_text_id": text,
                                                         "consented_on": today},
                                      self.api_headers) is None:
            return
        batch = self._post("/api/v1/batches", "prepare batch for a patient", {
            "cocktail_id": cocktail, "doses": 1, "patient_id": patient,
            "idempotency_key": uuid.uuid4().hex}, self.pharmacist)
        if batch is None or self._post(f"/api/v1/batches/{batch['id']}/verify", "verify batch",
                                       {}, self.verifier) is None:
            return
        self._post(f"/api/v1/sessions/{course['sessions'][0]['id']}/administrations",
                   "give administration", {"batch_id": batch["id"], "doses": 1,
                                           "sites": "forehead", "technique": "papules"},
                   self.api_headers)
        self.api_get(f"/api/v1/courses?patient_id={patient}", "patient's courses")
        self.api_get(f"/api/v1/patients/{patient}/timeline", "patient timeline")


class Pharmacist(Clinician):
    """Receives deliveries and prepares batches (API and the two-step page)."""

    role = "pharmacist"
    weight = 3
    wait_time = between(2, 6)

    @task(1)
    def receive(self):
        ingredient = random.choice(CONFIG["ingredients"])
        self.api_post("/api/v1/lots", "receive lot", {
            "ingredient_id": ingredient, "lot_number": f"LD-{uuid.uuid4().hex[:10].upper()}",
            "expiry_date": (date.today() + timedelta(days=random.randint(200, 700))).isoformat(),
            "quantity": str(random.choice((50, 100, 250))), "supplier": "Load test"})

    @task(3)
    def prepare_api(self):
        self.api_post("/api/v1/batches", "prepare batch", {
            "cocktail_id": random.choice(CONFIG["cocktails"]), "doses": random.randint(1, 3),
            "idempotency_key": uuid.uuid4().hex})

    @task(3)
    def prepare_page(self):
        cocktail, doses = random.choice(CONFIG["cocktails"]), random.randint(1, 3)
        r = self.page(f"/batches/new?cocktail_id={cocktail}&doses={doses}", "prepare (preview)")
        if r.status_code != 200:
            return
        key = KEY_RE.search(r.text)
        with self.client.post("/batches/new", name="page: prepare (confirm)", catch_response=True,
                              data={"cocktail_id": cocktail, "doses": doses, "patient_mrn": "",
                                    "idempotency_key": key.group(1) if key else "",
                                    "override_reason": "", "csrf_token": _csrf(r.text)}) as c:
            if c.status_code != 200 or "/batches/" not in c.url or c.url.endswith("/new"):
                c.failure(f"{c.status_code} at {c.url}")

    @task(2)
    def batch_list(self):
        self.page("/batches", "batch list")

    @task(1)
    def lots(self):
        self.page("/lots", "lot list")


class Manager(Clinician):
    """Looks at the dashboard and exports the month's reports; thinks longer."""

    role = "manager"
    weight = 1
    wait_time = between(5, 15)

    def _month(self) -> str:
        end = date.today()
        return f"from={(end - timedelta(days=30)).isoformat()}&to={end.isoformat()}"

    @task(2)
    def dashboard(self):
        self.page("/dashboard", "dashboard")

    @task(1)
    def batch_log(self):
        self.api_get(f"/api/v1/reports/batch-log.xlsx?{self._month()}", "batch-log.xlsx", "export")

    @task(1)
    def stock(self):
        self.api_get(f"/api/v1/reports/stock.xlsx?{self._month()}", "stock.xlsx", "export")
