"""The statement count of every list page and API list does not grow with the data.

The year-scale generator (``formulary.scale.load_year``) fills the database twice: a
small clinic (``factor=0.002``) and one five times larger (``factor=0.01``: more
ingredients, cocktails, lots, patients, batches and audit entries on each page). Each
list is requested as the demo admin (every permission) and its SQL statements counted:
a count that differs between the two sizes is a query per row (N+1).
"""

from __future__ import annotations


from formulary.auth import services as auth_services
from formulary.auth.models import User
from formulary.extensions import db
from formulary.patients.models import Patient
from formulary.scale import load_year
from tests.conftest import _empty_tables

SMALL, LARGER = 0.002, 0.01
PAGES = ("/dashboard", "/ingredients", "/lots", "/cocktails/", "/patients",
         "/patients/{patient}/formulations", "/batches", "/audit/")
API_LISTS = ("ingredients", "lots", "cocktails", "patients", "batches", "users")


def _measure(app, count_queries, factor: float) -> dict[str, int]:
    _empty_tables(app)
    load_year(db.session, echo=lambda *_: None, factor=factor)
    admin = db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()
    token, _ = auth_services.create_token(db.session, admin, days=1)
    db.session.commit()
    # a patient with a known allergy: the picker screens every formulation against it
    patient = db.session.execute(db.select(Patient.id).where(Patient.allergy_status == "known")
                                 .order_by(Patient.id).limit(1)).scalar_one()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = admin.get_id()
        sess["_fresh"] = True
    counts = {}
    for url in PAGES:
        url = url.format(patient=patient)
        client.get(url)  # warm: the first request of a session may load more
        with count_queries() as n:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[url.replace(str(patient), "<id>")] = n.count
    headers = {"Authorization": f"Bearer {token}"}
    for name in API_LISTS:
        url = f"/api/v1/{name}?per_page=25"
        client.get(url, headers=headers)
        with count_queries() as n:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())
        assert len(response.get_json()["items"]) <= 25
        counts[url] = n.count
    return counts


def test_statement_count_per_list_is_the_same_for_a_small_and_a_larger_clinic(app, count_queries):
    small = _measure(app, count_queries, SMALL)
    larger = _measure(app, count_queries, LARGER)
    grown = {url: (small[url], larger[url]) for url in small if small[url] != larger[url]}
    assert not grown, f"statements per request grow with the data (small, larger): {grown}"
