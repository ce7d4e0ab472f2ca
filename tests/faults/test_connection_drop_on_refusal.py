"""The connection dies while a request is being refused (a form shown again with its
errors, an API refusal): the request's changes are thrown away with the connection, and
the answer is a clear 503 (the error page, or the API's ``unavailable`` envelope), not a
500 and not the refusal drawn on a connection that is gone; the next request works.

The refusals here are real ones of the services (a lot received again with another
expiry, a delivery sheet with a bad row) after work the request had flushed; the server
kills the connection in between, as a PostgreSQL restart does.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook

from formulary.domain.errors import DomainError
from formulary.inventory import lots
from formulary.reports import services as report_services
from tests.faults.conftest import book_problems, counts, seed
from tests.faults.test_connection_drop import api_client, pg_only, receipt, terminate_backends

pytestmark = [pg_only, pytest.mark.parametrize("backend", ["postgresql"], indirect=True)]


def receive_then_lose_the_connection(monkeypatch):
    """``receive_lot`` receives (a lot, its movement, flushed), then the server goes away,
    then the service refuses: the view's form-error path runs on a dead connection."""
    original = lots.receive_lot

    def receive(session, actor, **kwargs):
        original(session, actor, **kwargs)
        try:  # the same lot number with another expiry: refused
            original(session, actor, **{**kwargs, "expiry_date": date(2032, 2, 29)})
        except DomainError:
            assert terminate_backends() >= 1
            raise
        raise AssertionError("the second receipt was not refused")

    monkeypatch.setattr(lots, "receive_lot", receive)


def test_a_form_refused_on_a_dead_connection_answers_503_and_the_next_works(app, client, login_as,
                                                                            monkeypatch):
    ids = seed()
    login_as("pharmacist")
    before = counts()
    form = {**receipt(ids, "FORM-1"), "ingredient_id": str(ids["ingredient_ids"][0])}
    token = client.csrf_token("/receive")
    receive_then_lose_the_connection(monkeypatch)
    response = client.post("/receive", data={"csrf_token": token, **form})
    monkeypatch.undo()
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:500]
    assert "Nothing was changed" in page
    assert response.headers["Retry-After"]
    assert counts() == before  # the lot received before the refusal is not there
    # the next request works, on a fresh connection; the same user is still logged in
    token = client.csrf_token("/receive")
    response = client.post("/receive", data={"csrf_token": token, **form})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert counts()["Lot"] == before["Lot"] + 1
    assert book_problems() == []


def test_an_api_refusal_left_to_the_error_handler_answers_503_on_a_dead_connection(app, monkeypatch):
    """The API's routes leave a refusal to the one domain-error handler: its rollback drops
    the connection, and the answer is the ``unavailable`` envelope, not the refusal's."""
    ids = seed()
    call_api = api_client(app, ids["token"])
    before = counts()
    receive_then_lose_the_connection(monkeypatch)
    response = call_api("post", "lots", receipt(ids, "API-1"))
    monkeypatch.undo()
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.json["error"]["code"] == "unavailable"
    assert counts() == before
    assert call_api("post", "lots", receipt(ids, "API-1")).status_code == 201
    assert book_problems() == []


def delivery_sheet(ids) -> bytes:
    """A sheet whose every row is good; the test's stand-in service refuses it after
    receiving its lots."""
    wb = Workbook()
    ws = wb.active
    ws.append(["ingredient", "lot_number", "expiry_date", "quantity"])
    ws.append(["Fault A", "DELIVERY-1", "2031-01-31", "5"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def import_then_lose_the_connection(monkeypatch, ids):
    """The delivery is received (lots flushed), then the server goes away, then the import
    is refused as a bad sheet."""
    def import_delivery(session, actor, data, **kwargs):
        from formulary.reports.delivery import DeliveryFileError

        lots.receive_lot(session, actor, ingredient=ids["ingredient_ids"][0],
                         lot_number="DELIVERY-1", expiry_date=date(2031, 1, 31), quantity="5")
        session.flush()
        assert terminate_backends() >= 1
        raise DeliveryFileError([(3, "the expiry date is not a date")])

    monkeypatch.setattr(report_services, "import_delivery", import_delivery)


def test_an_api_refusal_on_a_dead_connection_answers_the_unavailable_envelope(app, monkeypatch):
    ids = seed()
    call_api = api_client(app, ids["token"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ids['token']}"}
    before = counts()
    import_then_lose_the_connection(monkeypatch, ids)
    response = client.post("/api/v1/imports/delivery", headers=headers,
                           data={"file": (io.BytesIO(delivery_sheet(ids)), "delivery.xlsx")})
    monkeypatch.undo()
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.json["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]
    assert counts() == before
    assert call_api("post", "lots", receipt(ids, "AFTER-REFUSAL")).status_code == 201
    assert book_problems() == []


def test_a_page_refusal_on_a_dead_connection_answers_503(app, client, login_as, monkeypatch):
    """The delivery page shows a refused sheet's problems itself (no ``form_errors``)."""
    ids = seed()
    login_as("pharmacist")
    before = counts()
    token = client.csrf_token("/reports/")
    import_then_lose_the_connection(monkeypatch, ids)
    response = client.post("/reports/delivery", data={
        "csrf_token": token, "file": (io.BytesIO(delivery_sheet(ids)), "delivery.xlsx")},
        content_type="multipart/form-data")
    monkeypatch.undo()
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:500]
    assert "Nothing was changed" in page
    assert counts() == before
    assert client.get("/reports/").status_code == 200
    assert book_problems() == []


def test_an_unexpected_error_whose_rollback_drops_the_connection_answers_503(app, client, login_as,
                                                                             monkeypatch):
    """An error of the code itself (not the database's) after the server went away: the
    rollback after it fails and drops the connection; the answer is 503, not the 500 of a
    bug, since nothing can be said of the request's work but that none of it was kept."""
    ids = seed()
    login_as("pharmacist")
    app.config["PROPAGATE_UNEXPECTED"] = False  # the answer a server gives, not the test's raise
    before = counts()
    original = lots.receive_lot

    def receive_then_fail(session, actor, **kwargs):
        original(session, actor, **kwargs)
        session.flush()
        assert terminate_backends() >= 1
        raise RuntimeError("a bug after the connection died")

    form = {**receipt(ids, "UNEXPECTED-1"), "ingredient_id": str(ids["ingredient_ids"][0])}
    token = client.csrf_token("/receive")
    monkeypatch.setattr(lots, "receive_lot", receive_then_fail)
    response = client.post("/receive", data={"csrf_token": token, **form})
    monkeypatch.undo()
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:500]
    assert "Nothing was changed" in page
    assert counts() == before
    token = client.csrf_token("/receive")
    assert client.post("/receive", data={"csrf_token": token, **form}).status_code == 302
    assert book_problems() == []
